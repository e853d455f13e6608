import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Message, newMessage } from '../../raft/core/messages.js';
import { messageBytes } from '../../raft/message-batches.js';
import { EntryType } from '../../raft/types.js';
import { partBudget, RaftOutbox } from './raft-outbox.js';
import type { RaftStepPart } from './raft-service.js';

const msg = (to: string, index: number, bytes = 0): Message =>
  newMessage({
    type: 'MsgApp',
    from: 'a',
    to,
    index,
    entries: bytes > 0 ? [{ term: 1, index: index + 1, type: EntryType.Normal, data: new Uint8Array(bytes) }] : [],
  });

describe('RaftOutbox', () => {
  it('sends the messages of many groups to one member as one call, in the order they were added', () => {
    const calls: [string, RaftStepPart[]][] = [];
    const box = new RaftOutbox(1 << 20, (to, parts) => calls.push([to, parts]));
    for (let g = 0; g < 30; g++) {
      box.add('b', `g${g}`, [msg('b', g)]);
      box.add('c', `g${g}`, [msg('c', g)]);
    }
    box.add('b', 'g0', [msg('b', 100)]);
    box.flush();
    assert.equal(calls.length, 2);
    const [toB, partsB] = calls.find(([to]) => to === 'b')!;
    assert.equal(toB, 'b');
    assert.equal(partsB.length, 31);
    const g0 = partsB.filter((p) => p.groupId === 'g0').flatMap((p) => p.messages.map((m) => m.index));
    assert.deepEqual(g0, [0, 100], "one group's messages keep their order");
    assert.equal(box.isEmpty, true);
    box.flush();
    assert.equal(calls.length, 2, 'nothing more to send');
  });

  it('splits a destination into several calls rather than exceed the call size, each batch whole', () => {
    const calls: RaftStepPart[][] = [];
    const limit = 10_000;
    const box = new RaftOutbox(limit, (_to, parts) => calls.push(parts));
    const big = msg('b', 1, 4000);
    assert.ok(messageBytes(big) <= partBudget(limit, 'g1'));
    for (let g = 0; g < 5; g++) box.add('b', `g${g}`, [msg('b', g, 4000)]);
    box.flush();
    assert.ok(calls.length >= 3);
    for (const parts of calls) {
      const size = parts.reduce(
        (n, p) => n + p.messages.reduce((k, m) => k + messageBytes(m), 0) + 16 + 3 * p.groupId.length,
        0,
      );
      assert.ok(size <= limit, `a call of ${size} bytes`);
    }
    assert.deepEqual(
      calls.flat().map((p) => p.groupId),
      ['g0', 'g1', 'g2', 'g3', 'g4'],
    );
  });
});
