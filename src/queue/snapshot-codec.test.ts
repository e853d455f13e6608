import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParleyError } from '../wire/parley-error.js';
import { PartitionStateMachine } from './partition-state-machine.js';
import { decodePartitionSnapshot } from './snapshot-codec.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function sample(): PartitionStateMachine {
  const sm = new PartitionStateMachine();
  sm.applyCommand({ type: 'stream-create', now: 0, partition: 0, config: { name: 's', compactByKey: true } });
  sm.applyCommand({
    type: 'publish',
    now: 5,
    messages: [
      { subject: 's', payload: new Uint8Array([1]), key: 'a', msgId: 'x', headers: { h: 'v' } },
      { subject: 's', payload: new Uint8Array([2]), deliverAt: 9 },
      { subject: 's', payload: new Uint8Array([3]), key: 'a' },
    ],
  });
  return sm;
}

describe('partition snapshot codec', () => {
  it('keeps every field of a message, and the empty state round-trips too', () => {
    const s = decodePartitionSnapshot(sample().snapshot());
    assert.equal(s.lastSeq, 3);
    assert.equal(s.lastTime, 5);
    assert.deepEqual(
      s.messages.map((m) => [m.seq, m.key, m.headers, [...m.payload], m.deliverAt, m.msgId]),
      [
        [2, undefined, undefined, [2], 9, undefined],
        [3, 'a', undefined, [3], undefined, undefined],
      ],
    );
    assert.deepEqual(s.dedup, [['x', 1, 5 + 120_000]]);
    const empty = new PartitionStateMachine();
    const copy = new PartitionStateMachine();
    copy.restore(empty.snapshot());
    assert.equal(hex(copy.snapshot()), hex(empty.snapshot()));
    assert.equal(copy.config, undefined);
  });

  it('a damaged snapshot fails with DATA_LOSS and leaves the state as it was (property)', () => {
    const good = sample().snapshot();
    const target = sample();
    const before = hex(target.snapshot());
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }),
        fc.nat(good.length),
        (edits, cut) => {
          const bytes = new Uint8Array(good.subarray(0, Math.max(1, cut)));
          for (const [at, v] of edits) bytes[at % bytes.length] = v;
          try {
            target.restore(bytes);
          } catch (err) {
            assert.ok(err instanceof ParleyError && err.code === 'DATA_LOSS', String(err));
            assert.equal(hex(target.snapshot()), before);
            return;
          }
          // Whatever restores is a consistent state: it snapshots and restores to the same bytes.
          const again = new PartitionStateMachine();
          again.restore(target.snapshot());
          assert.equal(hex(again.snapshot()), hex(target.snapshot()));
          target.restore(good);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
