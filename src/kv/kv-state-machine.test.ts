import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack } from 'msgpackr';
import { bytesToUtf8 } from './bytes.js';
import { encodeCommand } from './command-codec.js';
import { validateCommand } from './commands.js';
import { KvStateMachine } from './kv-state-machine.js';
import { DEFAULT_LIMITS } from './limits.js';
import { fails, kvText, ok } from './testing/kv-test-helpers.js';

describe('put and range', () => {
  it('one revision per write; createRevision, modRevision and version per key', () => {
    const sm = new KvStateMachine();
    assert.equal(ok(sm, { type: 'put', key: 'a', value: '1' }).revision, 1);
    assert.equal(ok(sm, { type: 'put', key: 'b', value: '2' }).revision, 2);
    const r = ok(sm, { type: 'put', key: 'a', value: '3', prevKv: true });
    assert.equal(r.revision, 3);
    assert.equal(bytesToUtf8(r.prevKv!.value), '1');
    const g = ok(sm, { type: 'range', range: { key: 'a' } });
    assert.equal(g.count, 1);
    assert.deepEqual(
      { c: g.kvs[0]!.createRevision, m: g.kvs[0]!.modRevision, v: g.kvs[0]!.version },
      { c: 1, m: 3, v: 2 },
    );
    assert.equal(g.revision, 3);
  });

  it('a delete resets version and createRevision', () => {
    const sm = new KvStateMachine();
    ok(sm, { type: 'put', key: 'a', value: '1' });
    ok(sm, { type: 'put', key: 'a', value: '2' });
    const d = ok(sm, { type: 'delete', range: { key: 'a' }, prevKv: true });
    assert.deepEqual([d.deleted, d.revision, kvText(d.prevKvs!)], [1, 3, [['a', '2']]]);
    ok(sm, { type: 'put', key: 'a', value: '3' });
    const kv = ok(sm, { type: 'range', range: { key: 'a' } }).kvs[0]!;
    assert.deepEqual([kv.createRevision, kv.version], [4, 1]);
  });

  it('deleting nothing does not bump the revision', () => {
    const sm = new KvStateMachine();
    ok(sm, { type: 'put', key: 'a', value: '1' });
    const d = ok(sm, { type: 'delete', range: { key: 'zz' } });
    assert.deepEqual([d.deleted, d.revision, sm.store.revision], [0, 1, 1]);
  });

  it('prefix, from/to, limit, sort, keysOnly, countOnly', () => {
    const sm = new KvStateMachine();
    for (const k of ['p/c', 'p/a', 'p/b', 'q', 'o']) ok(sm, { type: 'put', key: k, value: `v-${k}` });
    assert.deepEqual(
      kvText(ok(sm, { type: 'range', range: { prefix: 'p/' } }).kvs).map((x) => x[0]),
      ['p/a', 'p/b', 'p/c'],
    );
    assert.deepEqual(
      ok(sm, { type: 'range', range: { from: 'p/b', to: 'q' } }).kvs.map((kv) => bytesToUtf8(kv.key)),
      ['p/b', 'p/c'],
    );
    assert.equal(ok(sm, { type: 'range', range: { from: 'p/b' } }).count, 3);
    assert.equal(ok(sm, { type: 'range', range: { prefix: '' } }).count, 5);
    const lim = ok(sm, { type: 'range', range: { prefix: 'p/' }, options: { limit: 2 } });
    assert.deepEqual([lim.kvs.length, lim.count, lim.more], [2, 3, true]);
    const desc = ok(sm, {
      type: 'range',
      range: { prefix: 'p/' },
      options: { sort: { target: 'modRevision', order: 'descend' }, limit: 1 },
    });
    assert.equal(bytesToUtf8(desc.kvs[0]!.key), 'p/b');
    const ko = ok(sm, { type: 'range', range: { prefix: 'p/' }, options: { keysOnly: true } });
    assert.ok(ko.kvs.every((kv) => kv.value.length === 0));
    const co = ok(sm, { type: 'range', range: { prefix: 'p/' }, options: { countOnly: true } });
    assert.deepEqual([co.kvs.length, co.count], [0, 3]);
  });

  it('binary keys keep byte order', () => {
    const sm = new KvStateMachine();
    for (const b of [[0xff], [0x00, 0x01], [0x80], [0x00]]) ok(sm, { type: 'put', key: new Uint8Array(b), value: 'x' });
    const keys = ok(sm, { type: 'range', range: { from: new Uint8Array([0]) } }).kvs.map((kv) => [...kv.key]);
    assert.deepEqual(keys, [[0x00], [0x00, 0x01], [0x80], [0xff]]);
    assert.equal(ok(sm, { type: 'range', range: { prefix: new Uint8Array([0xff]) } }).count, 1);
  });

  it('ignoreValue and ignoreLease keep the current value or lease', () => {
    const sm = new KvStateMachine();
    const l = ok(sm, { type: 'lease-grant', ttlMs: 5000, now: 0 });
    ok(sm, { type: 'put', key: 'a', value: 'v', lease: l.id });
    ok(sm, { type: 'put', key: 'a', value: 'w', ignoreLease: true });
    ok(sm, { type: 'put', key: 'a', value: 'ignored', ignoreValue: true, ignoreLease: true });
    const kv = ok(sm, { type: 'range', range: { key: 'a' } }).kvs[0]!;
    assert.deepEqual([bytesToUtf8(kv.value), kv.lease, kv.version], ['w', l.id, 3]);
    fails(sm, { type: 'put', key: 'missing', value: 'v', ignoreValue: true }, 'NOT_FOUND');
  });
});

describe('past revisions and compaction', () => {
  it('reads at a past revision see that state; compacted and future revisions are OUT_OF_RANGE', () => {
    const sm = new KvStateMachine();
    ok(sm, { type: 'put', key: 'a', value: '1' }); // 1
    ok(sm, { type: 'put', key: 'a', value: '2' }); // 2
    ok(sm, { type: 'delete', range: { key: 'a' } }); // 3
    ok(sm, { type: 'put', key: 'b', value: '1' }); // 4
    assert.deepEqual(kvText(ok(sm, { type: 'range', range: { prefix: '' }, options: { revision: 1 } }).kvs), [
      ['a', '1'],
    ]);
    assert.deepEqual(kvText(ok(sm, { type: 'range', range: { prefix: '' }, options: { revision: 3 } }).kvs), []);
    ok(sm, { type: 'compact', revision: 2 });
    assert.deepEqual(kvText(ok(sm, { type: 'range', range: { prefix: '' }, options: { revision: 2 } }).kvs), [
      ['a', '2'],
    ]);
    const e = fails(sm, { type: 'range', range: { key: 'a' }, options: { revision: 1 } }, 'OUT_OF_RANGE');
    assert.deepEqual(e.details, { compactRevision: 2, revision: 4 });
    fails(sm, { type: 'range', range: { key: 'a' }, options: { revision: 5 } }, 'OUT_OF_RANGE');
    fails(sm, { type: 'compact', revision: 2 }, 'OUT_OF_RANGE');
    fails(sm, { type: 'compact', revision: 9 }, 'OUT_OF_RANGE');
    ok(sm, { type: 'compact', revision: 4 });
    // The deleted key's tombstone is gone; b survives.
    assert.deepEqual(
      [...sm.store.allRecords()].map(([k]) => k),
      ['b'],
    );
  });
});

describe('txn', () => {
  it('compares on version, createRevision, modRevision, value, lease; one revision for all writes', () => {
    const sm = new KvStateMachine();
    ok(sm, { type: 'put', key: 'a', value: '1' }); // 1
    const t = ok(sm, {
      type: 'txn',
      compare: [
        { key: 'a', target: 'version', op: '=', value: 1 },
        { key: 'a', target: 'createRevision', op: '<', value: 2 },
        { key: 'a', target: 'modRevision', op: '>', value: 0 },
        { key: 'a', target: 'value', op: '=', value: '1' },
        { key: 'a', target: 'lease', op: '!=', value: 7 },
      ],
      success: [
        { type: 'put', key: 'a', value: '2' },
        { type: 'put', key: 'b', value: '2' },
        { type: 'range', range: { prefix: '' } },
        { type: 'delete', range: { key: 'b' } },
      ],
      failure: [],
    });
    assert.equal(t.succeeded, true);
    assert.equal(t.revision, 2);
    assert.equal(sm.store.revision, 2);
    const rr = t.responses[2]!;
    assert.ok(rr.type === 'range');
    assert.deepEqual(kvText(rr.kvs), [
      ['a', '2'],
      ['b', '2'],
    ]);
    assert.equal(ok(sm, { type: 'range', range: { key: 'b' } }).count, 0);
  });

  it('failure branch; value compare on a missing key is false; create-if-absent', () => {
    const sm = new KvStateMachine();
    const create = {
      type: 'txn' as const,
      compare: [{ key: 'lock', target: 'createRevision', op: '=', value: 0 }],
      success: [{ type: 'put', key: 'lock', value: 'me' }],
      failure: [{ type: 'range', range: { key: 'lock' } }],
    };
    assert.equal(ok(sm, create).succeeded, true);
    const second = ok(sm, create);
    assert.equal(second.succeeded, false);
    assert.equal(second.revision, 1);
    const t = ok(sm, {
      type: 'txn',
      compare: [{ key: 'nope', target: 'value', op: '!=', value: 'x' }],
      success: [],
      failure: [],
    });
    assert.equal(t.succeeded, false);
  });

  it('a txn failing half-way leaves no trace', () => {
    const sm = new KvStateMachine();
    const l = ok(sm, { type: 'lease-grant', ttlMs: 1000, now: 0 });
    ok(sm, { type: 'put', key: 'a', value: '1', lease: l.id });
    fails(
      sm,
      {
        type: 'txn',
        compare: [],
        success: [
          { type: 'delete', range: { key: 'a' } },
          { type: 'put', key: 'b', value: '2', lease: 999 },
        ],
      },
      'NOT_FOUND',
    );
    assert.equal(sm.store.revision, 1);
    assert.deepEqual(kvText(ok(sm, { type: 'range', range: { prefix: '' } }).kvs), [['a', '1']]);
    assert.equal(sm.timeToLive(l.id, 0, { keys: true }).keys!.length, 1);
  });
});

describe('limits and validation', () => {
  it('key, value, txn size, empty key, quota', () => {
    const sm = new KvStateMachine({ limits: { quotaBytes: 300 } });
    fails(sm, { type: 'put', key: '', value: 'x' }, 'INVALID_ARGUMENT');
    fails(sm, { type: 'put', key: 'k'.repeat(1537), value: 'x' }, 'INVALID_ARGUMENT');
    fails(sm, { type: 'put', key: 'k', value: new Uint8Array(1024 * 1024 + 1) }, 'INVALID_ARGUMENT');
    const ops = Array.from({ length: 129 }, () => ({ type: 'range', range: { key: 'a' } }));
    fails(sm, { type: 'txn', compare: [], success: ops, failure: [] }, 'INVALID_ARGUMENT');
    ok(sm, { type: 'put', key: 'a', value: 'x'.repeat(100) });
    const q = fails(sm, { type: 'put', key: 'b', value: 'x'.repeat(100) }, 'RESOURCE_EXHAUSTED');
    assert.match(q.message, /quota exceeded; compact and defragment or raise the quota|compact and defragment/);
    ok(sm, { type: 'delete', range: { key: 'a' } }); // deletes are always allowed
  });

  it('wrong shapes are INVALID_ARGUMENT, never a crash', () => {
    const sm = new KvStateMachine();
    for (const bad of [
      null,
      42,
      'put',
      [],
      { type: 'nope' },
      { type: 'put', key: 5, value: 'x' },
      { type: 'put', key: 'a', value: {} },
      { type: 'put', key: 'a', value: 'x', lease: -1 },
      { type: 'put', key: 'a', value: 'x', lease: 1.5 },
      { type: 'range', range: 7 },
      { type: 'range', range: { key: 'a' }, options: { sort: { target: 'x', order: 'up' } } },
      { type: 'txn', compare: 'x' },
      { type: 'txn', compare: [{ key: 'a', target: 'version', op: '~', value: 1 }] },
      { type: 'txn', compare: [{ key: 'a', target: 'version', op: '=', value: 'x' }] },
      { type: 'txn', success: [{ type: 'compact', revision: 1 }] },
      { type: 'compact', revision: '1' },
      { type: 'lease-grant', ttlMs: 0, now: 0 },
      { type: 'lease-checkpoint', checkpoints: [null] },
      { type: 'put', key: 'a', value: 'x', clientId: 3, seq: 1 },
      new Uint8Array([0xc1, 0xff]),
    ]) {
      fails(sm, bad, 'INVALID_ARGUMENT');
    }
  });

  it('commands may arrive as msgpack bytes', () => {
    const sm = new KvStateMachine();
    const o = sm.apply(
      encodeCommand(validateCommand({ type: 'put', key: new Uint8Array([1, 2]), value: 'v' }, DEFAULT_LIMITS)),
    );
    assert.ok(o.ok);
    assert.equal(sm.applyEntry({ term: 1, index: 1, type: 0, data: new Uint8Array(0) }), undefined);
    assert.ok(
      sm.applyEntry({
        term: 1,
        index: 2,
        type: 0,
        data: encodeCommand(validateCommand({ type: 'put', key: 'b', value: '' }, DEFAULT_LIMITS)),
      })?.ok,
    );
    assert.equal(
      sm.applyEntry({
        term: 1,
        index: 2,
        type: 0,
        data: encodeCommand(validateCommand({ type: 'put', key: 'b', value: '' }, DEFAULT_LIMITS)),
      }),
      undefined,
    );
    assert.equal(sm.store.revision, 2);
  });
});

describe('idempotent retries', () => {
  it('a retried (clientId, seq) returns the first outcome and is applied once', () => {
    const sm = new KvStateMachine({ limits: { dedupPerClient: 2 } });
    const first = sm.apply({ type: 'put', key: 'a', value: '1', clientId: 'c1', seq: 1 });
    const again = sm.apply({ type: 'put', key: 'a', value: '1', clientId: 'c1', seq: 1 });
    assert.deepEqual(again, first);
    assert.equal(sm.store.revision, 1);
    sm.apply({ type: 'put', key: 'a', value: '2', clientId: 'c1', seq: 2 });
    sm.apply({ type: 'put', key: 'a', value: '3', clientId: 'c1', seq: 3 });
    fails(sm, { type: 'put', key: 'a', value: '1', clientId: 'c1', seq: 1 }, 'FAILED_PRECONDITION');
    // Other clients are independent.
    assert.ok(sm.apply({ type: 'put', key: 'a', value: '1', clientId: 'c2', seq: 1 }).ok);
    // Remembered across snapshots.
    const copy = new KvStateMachine({ limits: { dedupPerClient: 2 } });
    copy.restore(sm.snapshot());
    assert.deepEqual(
      copy.apply({ type: 'put', key: 'a', value: '3', clientId: 'c1', seq: 3 }),
      sm.apply({ type: 'put', key: 'a', value: '3', clientId: 'c1', seq: 3 }),
    );
    assert.equal(copy.store.revision, 4);
  });
});

describe('snapshots', () => {
  it('restore keeps history, compaction, leases and retries; corrupt bytes are DATA_LOSS and change nothing', () => {
    const sm = new KvStateMachine();
    ok(sm, { type: 'lease-grant', id: 9, ttlMs: 1000, now: 0 });
    ok(sm, { type: 'put', key: 'a', value: '1' });
    ok(sm, { type: 'put', key: 'a', value: '2', lease: 9 });
    ok(sm, { type: 'put', key: 'b', value: '3' });
    ok(sm, { type: 'compact', revision: 2 });
    const copy = new KvStateMachine();
    copy.restore(sm.snapshot());
    assert.deepEqual(kvText(ok(copy, { type: 'range', range: { prefix: '' }, options: { revision: 2 } }).kvs), [
      ['a', '2'],
    ]);
    fails(copy, { type: 'range', range: { key: 'a' }, options: { revision: 1 } }, 'OUT_OF_RANGE');
    assert.equal(copy.store.sizeBytes, sm.store.sizeBytes);
    ok(copy, { type: 'lease-revoke', id: 9 });
    assert.equal(ok(copy, { type: 'range', range: { prefix: '' } }).count, 1);
    for (const bad of [
      new Uint8Array([1, 2, 3]),
      new Uint8Array(pack([1, 0, 0, 0, 1, 'x', [], []])),
      new Uint8Array(pack([1, 0, 0, 0, 1, [[1]], [], []])),
    ]) {
      assert.throws(() => sm.restore(bad), { code: 'DATA_LOSS' });
    }
    assert.equal(sm.store.revision, 3);
  });
});
