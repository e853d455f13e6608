import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantBackoff } from '../base/backoff.js';
import { seededRandom } from '../base/random.js';
import { FakeClock } from '../base/testing/fake-clock.js';
import type { Endpoint } from '../node/balancer.js';
import { ParleyError } from '../wire/parley-error.js';
import { createBalancer } from './balancer-factory.js';
import { breakerKey, CircuitBreakerRegistry } from './breaker-registry.js';
import { ConsecutiveFailures } from './consecutive-breaker.js';
import { FallbackPolicy } from './fallback-policy.js';
import { wrap } from './policy.js';
import { RetryPolicy } from './retry-policy.js';
import { TimeoutPolicy } from './timeout-policy.js';

/**
 * The caller pipeline as the node runtime is meant to assemble it: fallback → retry → timeout →
 * (per-node breaker + balancer pick). Each attempt is balanced anew, excluding nodes already tried.
 */
describe('caller pipeline (composition)', () => {
  it('a retry goes to another node; an open per-node breaker removes the node from the candidates', async () => {
    const clock = new FakeClock();
    const nodes: Endpoint[] = ['n1', 'n2', 'n3'].map((nodeId) => ({ nodeId, meta: {} }));
    const down = new Set(['n1', 'n2']);
    const balancer = createBalancer('round-robin', { random: seededRandom(1) });
    const breakers = new CircuitBreakerRegistry({
      breaker: { clock, strategy: () => new ConsecutiveFailures(1), openMs: 10_000 },
    });
    // FallbackPolicy changes the result type (T | F), so it sits outside wrap() rather than in it.
    const fallback = new FallbackPolicy({ fallback: 'fallback' });
    const policy = wrap(
      new RetryPolicy({ timer: clock, maxAttempts: 3, backoff: constantBackoff(1) }),
      new TimeoutPolicy({ ms: 100, timer: clock }),
    );
    const sentTo: string[] = [];

    const call = async () => {
      const tried = new Set<string>();
      const p = fallback.execute(
        (outer) =>
          policy.execute(async (ctx) => {
            const candidates = breakers.filter(nodes, 'svc.act');
            const endpoint = balancer.pick(candidates, { exclude: tried });
            if (!endpoint) throw new ParleyError('UNAVAILABLE', 'no node available');
            tried.add(endpoint.nodeId);
            sentTo.push(`${ctx.attempt}:${endpoint.nodeId}`);
            return breakers.get(breakerKey('svc.act', endpoint.nodeId)).execute(async () => {
              if (down.has(endpoint.nodeId)) throw new ParleyError('UNAVAILABLE', `${endpoint.nodeId} down`);
              return endpoint.nodeId;
            });
          }, outer),
        { call: { action: 'svc.act' } },
      );
      let out: unknown;
      p.then((v) => (out = v));
      for (let i = 0; i < 100 && out === undefined; i++) await clock.advanceAsync(1);
      return out;
    };

    assert.equal(await call(), 'n3');
    assert.deepEqual(sentTo, ['1:n1', '2:n3'], 'the retry skips the node it tried');
    sentTo.length = 0;
    assert.equal(await call(), 'n3');
    assert.deepEqual(sentTo, ['1:n2', '2:n3'], 'n1 is filtered out: its breaker is open');
    sentTo.length = 0;
    // n1 and n2 now have open breakers: the next call goes straight to n3.
    assert.equal(await call(), 'n3');
    assert.deepEqual(sentTo, ['1:n3']);
    // Everything down: the fallback answers.
    down.add('n3');
    breakers.get(breakerKey('svc.act', 'n3')).reset();
    sentTo.length = 0;
    assert.equal(await call(), 'fallback');
  });
});
