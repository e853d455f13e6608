import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadLetterLog } from './dead-letter-log.js';
import { messageBytes } from './message-log.js';
import type { DeadLetter, StoredMessage } from './types.js';

const message = (seq: number): StoredMessage => ({ seq, subject: 'jobs', payload: new Uint8Array(seq), time: 10 });
const letter = (seq: number): Omit<DeadLetter, 'seq'> => ({
  message: message(seq),
  consumer: 'workers',
  deliveries: 20,
  reason: 'max-deliveries',
  lastError: 'boom',
  time: 100 + seq,
});

describe('DeadLetterLog', () => {
  it('numbers dead letters from 1 and lists them in order from a sequence', () => {
    const d = new DeadLetterLog();
    for (let i = 1; i <= 5; i++) d.deadLetter(letter(i));
    assert.deepEqual(
      d.list().map((l) => [l.seq, l.message.seq]),
      [1, 2, 3, 4, 5].map((i) => [i, i]),
    );
    assert.deepEqual(
      d.list(3, 2).map((l) => l.seq),
      [3, 4],
    );
    assert.deepEqual(d.list(1, 0), []);
    assert.equal(d.get(2)?.lastError, 'boom');
    assert.equal(
      d.bytes,
      [1, 2, 3, 4, 5].reduce((s, i) => s + messageBytes(message(i)), 0),
    );
  });

  it('take() removes a dead letter for replay; sequences are not reused', () => {
    const d = new DeadLetterLog();
    d.deadLetter(letter(1));
    d.deadLetter(letter(2));
    assert.equal(d.take(1)?.message.seq, 1);
    assert.equal(d.take(1), undefined);
    assert.equal(d.size, 1);
    d.deadLetter(letter(3));
    assert.deepEqual(
      d.list().map((l) => l.seq),
      [2, 3],
    );
    assert.equal(d.bytes, messageBytes(message(2)) + messageBytes(message(3)));
  });

  it('is bounded: past its limit the oldest is dropped and counted', () => {
    const d = new DeadLetterLog(3);
    for (let i = 1; i <= 5; i++) d.deadLetter(letter(i));
    assert.equal(d.size, 3);
    assert.equal(d.dropped, 2);
    assert.deepEqual(
      d.list().map((l) => l.seq),
      [3, 4, 5],
    );
  });

  it('load() restores letters, the next sequence and the drop count', () => {
    const d = new DeadLetterLog();
    for (let i = 1; i <= 3; i++) d.deadLetter(letter(i));
    d.take(3);
    const copy = new DeadLetterLog();
    copy.load([...d.all()], d.nextSeq, 7);
    copy.deadLetter(letter(9));
    assert.deepEqual(
      copy.list().map((l) => l.seq),
      [1, 2, 4],
    );
    assert.equal(copy.dropped, 7);
  });
});
