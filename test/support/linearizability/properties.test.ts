import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { check } from './checker.js';
import { generateKvHistory, rng } from './gen-history.js';
import type { Operation } from './history.js';
import { type KvInput, type KvOutput, kvModel } from './kv-model.js';

type Op = Operation<KvInput, KvOutput>;

/** Changes one successful get to a value the key held earlier (a stale read), if there is one. */
function staleRead(history: Op[], pick: number): Op[] | undefined {
  // Values each key had, in generation (= linearization) order, paired with the op index.
  const writes = new Map<string, { value: string | null; at: number }[]>();
  const reads: number[] = [];
  history.forEach((op, i) => {
    const out = op.output;
    if (typeof out !== 'object') return;
    if (op.input.op === 'put') {
      const l = writes.get(op.input.key) ?? [{ value: null, at: -1 }];
      l.push({ value: op.input.value, at: i });
      writes.set(op.input.key, l);
    }
    if (op.input.op === 'get' && out.op === 'get') reads.push(i);
  });
  for (let k = 0; k < reads.length; k++) {
    const i = reads[(pick + k) % reads.length]!;
    const op = history[i]!;
    const out = op.output as { op: 'get'; value: string | null };
    // A value written well before this read was called, different from what it saw.
    const older = (writes.get((op.input as { key: string }).key) ?? []).filter(
      (w) => w.value !== out.value && w.at >= 0 && history[w.at]!.return < op.call - 200,
    );
    const w = older[0];
    if (w === undefined) continue;
    const mutated = [...history];
    mutated[i] = { ...op, output: { op: 'get', value: w.value } };
    return mutated;
  }
  return undefined;
}

describe('properties: histories from a sequential execution', () => {
  it('are linearizable (per-key model), with random windows and unknown outcomes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        (seed, clients, window, multiKey) => {
          const h = generateKvHistory({ seed, clients, ops: 150, keys: 4, window, unknownRate: 0.05, multiKey });
          assert.equal(check(kvModel(), h, { timeoutMs: 2_000 }).result, 'ok');
        },
      ),
      { numRuns: 40 },
    );
  });

  it('are linearizable with the revision model too (whole history)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 40 }), (seed, window) => {
        const h = generateKvHistory({
          seed,
          clients: 4,
          ops: 120,
          keys: 3,
          window,
          revisions: true,
          unknownRate: 0.03,
        });
        assert.equal(check(kvModel({ revisions: true }), h, { timeoutMs: 2_000 }).result, 'ok');
      }),
      { numRuns: 25 },
    );
  });

  it('a stale read mutation is usually detected', () => {
    let mutated = 0;
    let detected = 0;
    const r = rng(7);
    for (let run = 0; run < 40; run++) {
      const h = generateKvHistory({ seed: 1 + run, clients: 4, ops: 150, keys: 3, window: 30, multiKey: true });
      const m = staleRead(h, Math.floor(r() * 1000));
      if (m === undefined) continue;
      mutated++;
      if (check(kvModel(), m, { timeoutMs: 2_000 }).result === 'illegal') detected++;
    }
    console.log(`stale-read mutations detected: ${detected}/${mutated}`);
    assert.ok(mutated >= 30, `only ${mutated} histories could be mutated`);
    assert.ok(detected >= mutated * 0.8, `detected ${detected}/${mutated}`);
  });

  it('the search order (unknown-first or known-first) never changes the answer', () => {
    const r = rng(11);
    const model = kvModel();
    const knownFirst = { ...model, unknownFirst: false };
    for (let run = 0; run < 30; run++) {
      const h = generateKvHistory({ seed: 100 + run, clients: 4, ops: 80, keys: 2, window: 40, unknownRate: 0.1 });
      const m = run % 2 === 0 ? (staleRead(h, Math.floor(r() * 1000)) ?? h) : h;
      const a = check(model, m, { timeoutMs: 2_000 }).result;
      const b = check(knownFirst, m, { timeoutMs: 2_000 }).result;
      assert.equal(a, b, `seed ${100 + run}`);
      if (m === h) assert.equal(a, 'ok');
    }
  });
});
