import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantBackoff } from '../base/backoff.js';
import { FakeClock } from '../base/testing/fake-clock.js';
import { ParleyError } from '../wire/parley-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ConsecutiveFailures } from './consecutive-breaker.js';
import { FallbackPolicy } from './fallback-policy.js';
import { noopPolicy, type PolicyContext, wrap } from './policy.js';
import { RetryPolicy } from './retry-policy.js';
import { TimeoutPolicy } from './timeout-policy.js';

const never = (ctx: PolicyContext) =>
  new Promise<string>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));

describe('TimeoutPolicy', () => {
  it('rejects with DEADLINE_EXCEEDED at the deadline and aborts the inner signal', async () => {
    const clock = new FakeClock();
    const t = new TimeoutPolicy({ ms: 100, timer: clock });
    let inner: AbortSignal | undefined;
    let deadline: number | undefined;
    const p = t.execute((ctx) => {
      inner = ctx.signal;
      deadline = ctx.deadline;
      return new Promise<string>(() => {});
    });
    p.catch(() => {});
    await clock.advanceAsync(99);
    assert.equal(inner!.aborted, false);
    await clock.advanceAsync(1);
    await assert.rejects(p, (e: unknown) => ParleyError.is(e, 'DEADLINE_EXCEEDED'));
    assert.equal(inner!.aborted, true);
    assert.equal(deadline, 100);
  });

  it('uses the earlier incoming deadline, and clears its timer on success', async () => {
    const clock = new FakeClock();
    const t = new TimeoutPolicy({ ms: 1000, timer: clock });
    const p = t.execute(never, { deadline: 50 });
    p.catch(() => {});
    await clock.advanceAsync(50);
    await assert.rejects(p, (e: unknown) => ParleyError.is(e, 'DEADLINE_EXCEEDED'));
    assert.equal(await t.execute(async () => 'ok'), 'ok');
    assert.equal(clock.pendingTimers, 0);
  });

  it('outer cancellation aborts the inner signal', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const p = new TimeoutPolicy({ ms: 1000, timer: clock }).execute(never, ac.signal);
    ac.abort();
    await assert.rejects(p, (e: unknown) => ParleyError.is(e, 'CANCELLED'));
  });
});

describe('FallbackPolicy', () => {
  it('returns the fallback on chosen codes and when a breaker is open; other errors pass', async () => {
    const f = new FallbackPolicy({ fallback: (e: ParleyError) => `fallback:${e.code}`, codes: ['UNAVAILABLE'] });
    assert.equal(
      await f.execute(async () => {
        throw new ParleyError('UNAVAILABLE', 'x');
      }),
      'fallback:UNAVAILABLE',
    );
    await assert.rejects(
      f.execute(async () => {
        throw new ParleyError('INVALID_ARGUMENT', 'x');
      }),
    );
    const breaker = new CircuitBreaker({ name: 'b', strategy: new ConsecutiveFailures(1), clock: new FakeClock() });
    await breaker
      .execute(async () => {
        throw new ParleyError('INTERNAL', 'x');
      })
      .catch(() => {});
    const onlyBreaker = new FallbackPolicy({ fallback: 'cached', codes: [] });
    assert.equal(await onlyBreaker.execute(() => breaker.execute(async () => 'live')), 'cached');
  });
});

describe('wrap', () => {
  it('composes outermost first: the breaker sees every timeout, each retry gets a fresh timeout', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ name: 'b', strategy: new ConsecutiveFailures(10), clock });
    const failures: number[] = [];
    const retry = new RetryPolicy({ timer: clock, maxAttempts: 3, backoff: constantBackoff(0) });
    const policy = wrap(retry, breaker, new TimeoutPolicy({ ms: 100, timer: clock }));
    const attempts: number[] = [];
    const p = policy.execute(
      (ctx) => {
        attempts.push(ctx.attempt);
        failures.push(clock.now());
        return never(ctx);
      },
      { call: { idempotent: true } },
    );
    let settled = false;
    p.catch(() => (settled = true));
    for (let i = 0; i < 10 && !settled; i++) await clock.advanceAsync(100);
    await assert.rejects(p, (e: unknown) => ParleyError.is(e, 'DEADLINE_EXCEEDED'));
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.deepEqual(failures, [0, 100, 200]);
    assert.equal(breaker.state, 'closed');
  });

  it('wrap() of nothing is the no-op policy; contexts flow through', async () => {
    assert.equal(await wrap().execute(async () => 1), 1);
    const seen = await wrap(noopPolicy, noopPolicy).execute(async (ctx) => ctx.call.action, { call: { action: 'a' } });
    assert.equal(seen, 'a');
  });
});

describe('synchronous throws', () => {
  it('become rejections in the timer-based policies and leave no timer behind', async () => {
    const clock = new FakeClock();
    const boom = (() => {
      throw new ParleyError('INTERNAL', 'sync');
    }) as unknown as (ctx: PolicyContext) => Promise<string>;
    await assert.rejects(new TimeoutPolicy({ ms: 10, timer: clock }).execute(boom), (e: unknown) =>
      ParleyError.is(e, 'INTERNAL'),
    );
    assert.equal(clock.pendingTimers, 0);
  });
});
