import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DedupWindow } from './dedup-window.js';

describe('DedupWindow', () => {
  it('remembers an id until its window ends, by the given now', () => {
    const d = new DedupWindow();
    d.record('a', 1, 1100, 1000);
    assert.equal(d.lookup('a', 1099), 1);
    assert.equal(d.lookup('a', 1100), undefined);
    assert.equal(d.size, 0);
  });

  it('keeps the first sequence of an id, and ignores a zero window', () => {
    const d = new DedupWindow();
    d.record('a', 1, 2000, 1000);
    d.record('a', 2, 3000, 1000);
    assert.equal(d.lookup('a', 1000), 1);
    d.record('b', 3, 1000, 1000);
    assert.equal(d.lookup('b', 1000), undefined);
  });

  it('is bounded: past maxEntries the oldest id is forgotten early and counted', () => {
    const d = new DedupWindow(3);
    for (let i = 0; i < 10; i++) d.record(`id${i}`, i + 1, 10_000, 0);
    assert.equal(d.size, 3);
    assert.equal(d.evictedEarly, 7);
    assert.equal(d.lookup('id6', 0), undefined);
    assert.equal(d.lookup('id9', 0), 10);
  });

  it('stays small over a long run: memory follows the ids inside the window, not the ids ever seen', () => {
    const d = new DedupWindow();
    for (let t = 0; t < 300_000; t++) d.record(`m${t}`, t + 1, t + 100, t);
    assert.ok(d.size <= 100);
    const internals = d as unknown as { ids: string[] };
    assert.ok(internals.ids.length < 2500, `${internals.ids.length} ids held`);
  });

  it('dump/load round-trips; the restored window behaves the same (property against a Map oracle)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd'), dt: fc.nat(30), window: fc.nat(60) }), {
          maxLength: 60,
        }),
        (ops) => {
          const d = new DedupWindow(3);
          const oracle = new Map<string, { seq: number; until: number; order: number }>();
          let now = 0;
          let seq = 0;
          let order = 0;
          for (const o of ops) {
            now += o.dt;
            for (const [k, v] of oracle) if (v.until <= now) oracle.delete(k);
            const want = oracle.get(o.id)?.seq;
            assert.equal(d.lookup(o.id, now), want);
            if (want === undefined) {
              seq++;
              d.record(o.id, seq, now + o.window, now);
              if (o.window > 0) {
                if (oracle.size >= 3) {
                  const oldest = [...oracle].sort((x, y) => x[1].order - y[1].order)[0]![0];
                  oracle.delete(oldest);
                }
                // Expiries are clamped to be non-decreasing (an id may live longer than its window).
                const maxUntil = Math.max(now + o.window, ...[...oracle.values()].map((v) => v.until));
                oracle.set(o.id, { seq, until: maxUntil, order: order++ });
              }
            }
            const copy = new DedupWindow(3);
            copy.load(d.dump(), d.evictedEarly);
            assert.deepEqual(copy.dump(), d.dump());
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
