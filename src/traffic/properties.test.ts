import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { seededRandom } from '../base/random.js';
import { FakeClock, settle } from '../base/testing/fake-clock.js';
import type { Endpoint } from '../node/balancer.js';
import { ParleyError } from '../wire/parley-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ConsecutiveFailures } from './consecutive-breaker.js';
import { LeastOutstandingBalancer } from './least-outstanding.js';
import { LruMap } from './lru-map.js';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.js';

const RUNS = { numRuns: 60, seed: 42 };

describe('properties', () => {
  it('smooth WRR: every window of sum(weights) picks gives each endpoint exactly its weight', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }), (weights) => {
        const list: Endpoint[] = weights.map((weight, i) => ({ nodeId: `n${i}`, meta: { weight } }));
        const b = new WeightedRoundRobinBalancer();
        const total = weights.reduce((a, w) => a + w, 0);
        for (let round = 0; round < 3; round++) {
          const counts = new Map<string, number>();
          for (let i = 0; i < total; i++) {
            const id = b.pick(list, {})!.nodeId;
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
          for (const [i, w] of weights.entries()) assert.equal(counts.get(`n${i}`) ?? 0, w);
        }
      }),
      RUNS,
    );
  });

  it('P2C least-outstanding never picks the unique most loaded endpoint', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 2, maxLength: 8 }),
        fc.integer(),
        (loads, seed) => {
          const b = new LeastOutstandingBalancer({ random: seededRandom(seed) });
          const list: Endpoint[] = loads.map((_, i) => ({ nodeId: `n${i}`, meta: {} }));
          loads.forEach((n, i) => {
            for (let k = 0; k < n; k++) b.onStart(list[i]!, {});
          });
          const max = Math.max(...loads);
          if (loads.filter((l) => l === max).length !== 1) return;
          for (let i = 0; i < 20; i++) assert.notEqual(b.inflight(b.pick(list, {})!.nodeId), max);
        },
      ),
      RUNS,
    );
  });

  it('LruMap never holds more than maxSize entries and keeps the most recent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 100 }),
        (max, keys) => {
          const m = new LruMap<number, number>({ maxSize: max });
          for (const k of keys) m.set(k, k);
          assert.ok(m.size <= max);
          const last = keys.at(-1);
          if (last !== undefined) assert.equal(m.get(last), last);
        },
      ),
      RUNS,
    );
  });

  it('half-open admits at most halfOpenProbes calls per half-open period, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.constantFrom('call', 'call', 'fail', 'tick', 'ok', 'call'), {
          minLength: 20,
          maxLength: 60,
          size: 'max',
        }),
        async (probes, script) => {
          const clock = new FakeClock();
          const b = new CircuitBreaker({
            name: 'p',
            clock,
            strategy: new ConsecutiveFailures(1),
            openMs: 10,
            halfOpenProbes: probes,
          });
          const open: { release: (ok: boolean) => void }[] = [];
          let inflightHalfOpen = 0;
          for (const step of script) {
            if (step === 'tick') clock.advance(10);
            else if (step === 'call') {
              const wasHalfOpen = b.state === 'half-open';
              let release: ((ok: boolean) => void) | undefined;
              const p = b.execute(
                () =>
                  new Promise<void>((res, rej) => {
                    release = (ok) => (ok ? res() : rej(new ParleyError('UNAVAILABLE', 'x')));
                  }),
              );
              p.catch(() => {});
              if (release) {
                if (wasHalfOpen) inflightHalfOpen++;
                open.push({ release });
                assert.ok(!wasHalfOpen || inflightHalfOpen <= probes, 'probe limit');
              }
            } else {
              const c = open.shift();
              if (c) {
                c.release(step === 'ok');
                await settle();
              }
              if (b.state !== 'half-open') inflightHalfOpen = 0;
            }
          }
          for (const c of open) c.release(true);
        },
      ),
      { numRuns: 100, seed: 7 },
    );
  });
});
