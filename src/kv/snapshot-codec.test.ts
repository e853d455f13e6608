import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { KvStateMachine } from './kv-state-machine.js';

function busyStore(): KvStateMachine {
  const sm = new KvStateMachine();
  sm.apply({ type: 'lease-grant', id: 7, ttlMs: 5000, now: 0 });
  for (let i = 0; i < 6000; i++) {
    const o = sm.apply({
      type: 'put',
      key: `k${i % 40}`,
      value: `v${i}`,
      lease: i % 3 === 0 ? 7 : undefined,
      clientId: `c${i % 5}`,
      seq: Math.floor(i / 5) + 1,
    });
    assert.ok(o.ok);
  }
  sm.apply({ type: 'delete', range: { key: 'k3' } });
  return sm;
}

describe('snapshot encoder', () => {
  it('a snapshot taken in slices is the state when it began, whatever is applied, compacted or undone meanwhile', () => {
    const sm = busyStore();
    const expected = sm.snapshot();
    const enc = sm.beginSnapshot();
    assert.equal(enc.step(1000), false, 'more than one slice');
    for (let i = 0; i < 50; i++) sm.apply({ type: 'put', key: `k${i}`, value: 'later' });
    sm.apply({ type: 'delete', range: { prefix: 'k1' } });
    // A txn that fails half-way: its first put is appended, then undone.
    const failed = sm.apply({
      type: 'txn',
      compare: [],
      success: [
        { type: 'put', key: 'k0', value: 'undone' },
        { type: 'put', key: 'k1', value: 'x', lease: 999 },
      ],
      failure: [],
    });
    assert.equal(failed.ok, false);
    assert.ok(sm.apply({ type: 'compact', revision: sm.store.revision - 10 }).ok);
    let seq = 10_000;
    while (!enc.step(1000)) sm.apply({ type: 'put', key: 'k5', value: 'during', clientId: 'c0', seq: seq++ });
    assert.deepEqual(enc.bytes(), expected);
    const copy = new KvStateMachine();
    copy.restore(enc.bytes());
    assert.deepEqual(copy.snapshot(), expected);
  });

  it('the slices concatenate to msgpack’s own encoding of the whole layout', () => {
    const bytes = busyStore().snapshot();
    const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
    const whole = packr.pack(packr.unpack(bytes.slice()));
    assert.ok(Buffer.from(whole).equals(Buffer.from(bytes)), 'same bytes');
  });
});
