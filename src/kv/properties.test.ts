import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bytesToUtf8 } from './bytes.js';
import { KvStateMachine } from './kv-state-machine.js';

/**
 * Model-based test: the MVCC store against a reference model made of a Map of current values and
 * a list of whole-state copies, one per revision. Plus determinism: the same commands on fresh
 * instances give byte-identical snapshots, and a snapshot round trip changes nothing.
 */

interface ModelKv {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}
type State = Map<string, ModelKv>;

const KEYS = ['a', 'ab', 'b', 'ba', 'c'];
const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom('', 'x', 'y', 'zz');

type Cmd =
  | { t: 'put'; k: string; v: string }
  | { t: 'del'; k: string }
  | { t: 'delp'; p: string }
  | { t: 'cas'; k: string; ver: number; v: string }
  | { t: 'compact'; back: number }
  | { t: 'read'; back: number; p: string };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('put' as const), k: key, v: value }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: key }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('delp' as const), p: fc.constantFrom('a', 'b', '') }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('cas' as const), k: key, ver: fc.nat(3), v: value }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const), back: fc.nat(6) }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('read' as const), back: fc.nat(8), p: fc.constantFrom('a', 'b', '') }),
  },
);

/** Bytes as hex (msgpackr decorates decoded buffers with a property, which deepEqual would see). */
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function view(sm: KvStateMachine, prefix: string, revision: number) {
  const o = sm.apply({ type: 'range', range: { prefix }, options: { revision } });
  if (!o.ok) return o.error.code;
  assert.ok(o.result.type === 'range');
  return o.result.kvs.map((kv) => [
    bytesToUtf8(kv.key),
    bytesToUtf8(kv.value),
    kv.createRevision,
    kv.modRevision,
    kv.version,
  ]);
}

function modelView(s: State, prefix: string) {
  return [...s.entries()]
    .filter(([k]) => k.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, kv]) => [k, kv.value, kv.createRevision, kv.modRevision, kv.version]);
}

describe('kv properties', () => {
  it('matches a reference model, including compaction and reads at past revisions', () => {
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 40 }), (cmds) => {
        const sm = new KvStateMachine();
        const states: State[] = [new Map()];
        let compactRev = 0;
        const rev = () => states.length - 1;
        const cur = () => states[rev()]!;
        const write = (f: (s: State, r: number) => boolean) => {
          const next = new Map(cur());
          if (f(next, rev() + 1)) states.push(next);
        };
        const modelPut = (s: State, k: string, v: string, r: number) => {
          const p = s.get(k);
          s.set(k, {
            value: v,
            createRevision: p?.createRevision ?? r,
            modRevision: r,
            version: (p?.version ?? 0) + 1,
          });
        };
        for (const c of cmds) {
          switch (c.t) {
            case 'put':
              assert.ok(sm.apply({ type: 'put', key: c.k, value: c.v }).ok);
              write((s, r) => {
                modelPut(s, c.k, c.v, r);
                return true;
              });
              break;
            case 'del':
              assert.ok(sm.apply({ type: 'delete', range: { key: c.k } }).ok);
              write((s) => s.delete(c.k));
              break;
            case 'delp':
              assert.ok(sm.apply({ type: 'delete', range: { prefix: c.p } }).ok);
              write((s) => {
                const ks = [...s.keys()].filter((k) => k.startsWith(c.p));
                for (const k of ks) s.delete(k);
                return ks.length > 0;
              });
              break;
            case 'cas': {
              const o = sm.apply({
                type: 'txn',
                compare: [{ key: c.k, target: 'version', op: '=', value: c.ver }],
                success: [
                  { type: 'put', key: c.k, value: c.v },
                  { type: 'put', key: `${c.k}!`, value: c.v },
                ],
                failure: [{ type: 'delete', range: { key: c.k } }],
              });
              assert.ok(o.ok && o.result.type === 'txn');
              const succeeded = (cur().get(c.k)?.version ?? 0) === c.ver;
              assert.equal(o.result.succeeded, succeeded);
              write((s, r) => {
                if (!succeeded) return s.delete(c.k);
                modelPut(s, c.k, c.v, r);
                modelPut(s, `${c.k}!`, c.v, r);
                return true;
              });
              break;
            }
            case 'compact': {
              const target = rev() - c.back;
              const o = sm.apply({ type: 'compact', revision: target });
              const valid = target > compactRev && target >= 1;
              assert.equal(o.ok, valid);
              if (valid) compactRev = target;
              break;
            }
            case 'read': {
              const r = rev() - c.back;
              if (r < 0) break;
              const expected =
                r === 0 ? modelView(cur(), c.p) : r < compactRev ? 'OUT_OF_RANGE' : modelView(states[r]!, c.p);
              assert.deepEqual(view(sm, c.p, r), expected);
              break;
            }
          }
          assert.equal(sm.store.revision, rev());
          // Invariant: sizeBytes is the sum over stored records.
          let size = 0;
          for (const [, recs] of sm.store.allRecords())
            for (const r of recs) size += r.kv.key.length + r.kv.value.length + 64;
          assert.equal(sm.store.sizeBytes, size);
          assert.deepEqual(view(sm, '', 0), modelView(cur(), ''));
        }
        // Every revision not compacted reads as the model says; the future is OUT_OF_RANGE.
        for (let r = Math.max(1, compactRev); r <= rev(); r++)
          assert.deepEqual(view(sm, '', r), modelView(states[r]!, ''));
        assert.equal(view(sm, '', rev() + 1), 'OUT_OF_RANGE');
      }),
      { numRuns: 150 },
    );
  });

  const anyCommand = fc.oneof(
    fc.record({ type: fc.constant('put'), key: key, value: value, lease: fc.constantFrom(0, 1, 2) }),
    fc.record({
      type: fc.constant('delete'),
      range: fc.record({ prefix: fc.constantFrom('a', '') }),
      prevKv: fc.boolean(),
    }),
    fc.record({ type: fc.constant('lease-grant'), ttlMs: fc.integer({ min: 1, max: 100 }), now: fc.nat(100) }),
    fc.record({ type: fc.constant('lease-revoke'), id: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ type: fc.constant('lease-keepalive'), id: fc.integer({ min: 1, max: 3 }), now: fc.nat(100) }),
    fc.record({
      type: fc.constant('lease-checkpoint'),
      checkpoints: fc.array(fc.record({ id: fc.integer({ min: 1, max: 3 }), remainingMs: fc.nat(100) }), {
        maxLength: 2,
      }),
    }),
    fc.record({ type: fc.constant('lease-expire'), ids: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }) }),
    fc.record({ type: fc.constant('compact'), revision: fc.integer({ min: 1, max: 20 }) }),
    fc.record({
      type: fc.constant('put'),
      key: key,
      value: value,
      clientId: fc.constantFrom('c1', 'c2'),
      seq: fc.integer({ min: 1, max: 30 }),
    }),
    fc.constant({ type: 'bogus' }),
  );

  it('the same commands give byte-identical snapshots; a snapshot round trip is exact', () => {
    fc.assert(
      fc.property(fc.array(anyCommand, { maxLength: 40 }), fc.nat(40), (cmds, cut) => {
        const a = new KvStateMachine({ limits: { dedupPerClient: 4 } });
        const b = new KvStateMachine({ limits: { dedupPerClient: 4 } });
        const head = cmds.slice(0, cut);
        const tail = cmds.slice(cut);
        for (const c of head) assert.deepEqual(a.apply(c), b.apply(c));
        // c joins from a snapshot half-way, as a lagging member would.
        const c = new KvStateMachine({ limits: { dedupPerClient: 4 } });
        const snap = a.snapshot();
        c.restore(snap);
        assert.equal(hex(c.snapshot()), hex(snap));
        for (const x of tail) {
          const ra = a.apply(x);
          b.apply(x);
          const rc = c.apply(x);
          assert.equal(rc.ok, ra.ok);
        }
        assert.equal(hex(b.snapshot()), hex(a.snapshot()));
        assert.equal(hex(c.snapshot()), hex(a.snapshot()));
      }),
      { numRuns: 150 },
    );
  });

  it('arbitrary input from the network never crashes apply and leaves no trace when rejected', () => {
    const types = fc.constantFrom(
      'put',
      'range',
      'delete',
      'txn',
      'compact',
      'lease-grant',
      'lease-expire',
      'lease-checkpoint',
    );
    const junk = fc.oneof(
      fc.anything(),
      fc.dictionary(
        fc.constantFrom('type', 'key', 'value', 'range', 'compare', 'success', 'ids', 'seq', 'clientId'),
        fc.anything(),
      ),
      fc.record({
        type: types,
        key: fc.anything(),
        value: fc.anything(),
        range: fc.anything(),
        options: fc.anything(),
      }),
      fc.record({ type: fc.constant('txn'), compare: fc.array(fc.anything()), success: fc.array(fc.anything()) }),
      fc.uint8Array({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(junk, (x) => {
        const sm = new KvStateMachine();
        const before = hex(sm.snapshot());
        const o = sm.apply(x);
        // Rejected input leaves no trace (other failures may be remembered for retries).
        if (!o.ok && o.error.code === 'INVALID_ARGUMENT') assert.equal(hex(sm.snapshot()), before);
      }),
      { numRuns: 300 },
    );
  });

  it('watches: every event once, in order, across replay, live delivery, slow consumers and late starts', () => {
    type W =
      | { t: 'put'; k: string }
      | { t: 'delp'; p: string }
      | { t: 'txn'; a: string; b: string }
      | { t: 'poll'; w: number };
    const wop: fc.Arbitrary<W> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ t: fc.constant('put' as const), k: key }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('delp' as const), p: fc.constantFrom('a', 'b', '') }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('txn' as const), a: key, b: key }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('poll' as const), w: fc.nat(2) }) },
    );
    fc.assert(
      fc.property(
        fc.array(wop, { maxLength: 40 }),
        fc.array(fc.record({ at: fc.nat(40), back: fc.nat(10), prefix: fc.constantFrom('a', 'b', '') }), {
          minLength: 3,
          maxLength: 3,
        }),
        fc.integer({ min: 1, max: 4 }),
        (ops, specs, backlog) => {
          const sm = new KvStateMachine({ maxWatchBacklog: backlog });
          const live = new Set<string>();
          const all: string[] = []; // "TYPE key@rev" of every event, in order
          const watchers: { id: number; prefix: string; start: number; got: string[] }[] = [];
          const fmt = (e: { type: string; kv: { key: Uint8Array; modRevision: number } }) =>
            `${e.type} ${bytesToUtf8(e.kv.key)}@${e.kv.modRevision}`;
          const drain = (w: (typeof watchers)[number]) => w.got.push(...sm.watches.poll(w.id).events.map(fmt));
          ops.forEach((o, i) => {
            for (const sp of specs) {
              if (sp.at !== i) continue;
              const start = Math.max(1, sm.store.revision + 1 - sp.back);
              watchers.push({
                id: sm.watches.watch({ range: { prefix: sp.prefix }, startRevision: start }),
                prefix: sp.prefix,
                start,
                got: [],
              });
            }
            const rev = sm.store.revision + 1;
            switch (o.t) {
              case 'put':
                sm.apply({ type: 'put', key: o.k, value: 'v' });
                live.add(o.k);
                all.push(`PUT ${o.k}@${rev}`);
                break;
              case 'delp': {
                sm.apply({ type: 'delete', range: { prefix: o.p } });
                for (const k of [...live].filter((k) => k.startsWith(o.p)).sort()) {
                  live.delete(k);
                  all.push(`DELETE ${k}@${rev}`);
                }
                break;
              }
              case 'txn':
                sm.apply({
                  type: 'txn',
                  compare: [],
                  success: [
                    { type: 'put', key: o.a, value: 'v' },
                    { type: 'delete', range: { key: o.b } },
                  ],
                  failure: [],
                });
                all.push(`PUT ${o.a}@${rev}`);
                live.add(o.a);
                if (live.delete(o.b)) all.push(`DELETE ${o.b}@${rev}`);
                break;
              case 'poll':
                if (watchers[o.w] !== undefined) drain(watchers[o.w]!);
                break;
            }
          });
          for (const w of watchers) {
            for (let n = 0; n < 100 && !sm.watches.isSynced(w.id); n++) drain(w);
            drain(w);
            const expected = all.filter((e) => {
              const [, rest] = e.split(' ');
              const [k, r] = rest!.split('@');
              return k!.startsWith(w.prefix) && Number(r) >= w.start;
            });
            assert.deepEqual(w.got, expected);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
