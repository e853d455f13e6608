import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantBackoff, exponentialBackoff } from '../base/backoff.js';
import { seededRandom } from '../base/random.js';
import { FakeClock } from '../base/testing/fake-clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import type { PolicyContext } from './policy.js';
import { RetryBudgetRegistry, TokenRetryBudget } from './retry-budget.js';
import { type GiveUpEvent, RetryPolicy } from './retry-policy.js';

const fail = (code: ErrorCode, retryAfterMs?: number) => new ParleyError(code, `failed: ${code}`, { retryAfterMs });

/** Runs `promise` to completion while moving the fake clock; returns the result or the error. */
async function drive<T>(clock: FakeClock, promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let out: { value?: T; error?: unknown } | undefined;
  promise.then(
    (value) => (out = { value }),
    (error) => (out = { error }),
  );
  for (let i = 0; i < 1000 && !out; i++) await clock.advanceAsync(1000);
  assert.ok(out, 'the promise settled');
  return out;
}

describe('exponentialBackoff', () => {
  it('grows by the multiplier up to the cap; full jitter stays below the cap', () => {
    const none = exponentialBackoff({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 'none' });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((r) => none.delayMs(r, Math.random)),
      [100, 200, 400, 800, 1000],
    );
    const full = exponentialBackoff({ initialMs: 100, maxMs: 1000 });
    const rnd = seededRandom(1);
    for (let i = 0; i < 200; i++) {
      const d = full.delayMs(3, rnd);
      assert.ok(d >= 0 && d < 400);
    }
  });
});

describe('RetryPolicy', () => {
  it('retries UNAVAILABLE until it succeeds, numbering attempts 1, 2, 3', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ timer: clock, backoff: constantBackoff(10) });
    const seen: number[] = [];
    const result = await drive(
      clock,
      policy.execute(async (ctx: PolicyContext) => {
        seen.push(ctx.attempt);
        if (ctx.attempt < 3) throw fail('UNAVAILABLE');
        return 'ok';
      }),
    );
    assert.equal(result.value, 'ok');
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('waits the backoff on the clock between attempts', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ timer: clock, backoff: constantBackoff(50) });
    const times: number[] = [];
    await drive(
      clock,
      policy.execute(async (ctx) => {
        times.push(clock.now());
        if (ctx.attempt < 3) throw fail('UNAVAILABLE');
      }),
    );
    assert.deepEqual(times, [0, 50, 100]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ timer: clock, maxAttempts: 3, backoff: constantBackoff(1) });
    const giveUps: GiveUpEvent[] = [];
    policy.onGiveUp((e) => giveUps.push(e));
    let calls = 0;
    const r = await drive(
      clock,
      policy.execute(async () => {
        calls++;
        throw fail('UNAVAILABLE');
      }),
    );
    assert.equal(calls, 3);
    assert.ok(ParleyError.is(r.error, 'UNAVAILABLE'));
    assert.deepEqual(
      giveUps.map((g) => [g.attempt, g.reason]),
      [[3, 'attempts']],
    );
  });

  it("does not retry non-retryable codes, non-Parley errors or an open breaker's rejection", async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ timer: clock });
    const brokenCircuit = new ParleyError('UNAVAILABLE', 'open', { details: { reason: 'circuit-open' } });
    for (const err of [fail('INVALID_ARGUMENT'), fail('NOT_FOUND'), new Error('boom'), brokenCircuit]) {
      let calls = 0;
      const r = await drive(
        clock,
        policy.execute(async () => {
          calls++;
          throw err;
        }),
      );
      assert.equal(calls, 1);
      assert.equal(r.error, err);
    }
  });

  it('retries DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED only for idempotent calls', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ timer: clock, backoff: constantBackoff(1) });
    for (const code of ['DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'] as const) {
      for (const idempotent of [false, true]) {
        let calls = 0;
        await drive(
          clock,
          policy.execute(
            async () => {
              calls++;
              throw fail(code);
            },
            { call: { idempotent } },
          ),
        );
        assert.equal(calls, idempotent ? 3 : 1, `${code} idempotent=${idempotent}`);
      }
    }
  });

  it('honours pushback: never sooner than retryAfterMs; negative means do not retry', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ timer: clock, backoff: constantBackoff(10) });
    const times: number[] = [];
    await drive(
      clock,
      policy.execute(async (ctx) => {
        times.push(clock.now());
        if (ctx.attempt === 1) throw fail('UNAVAILABLE', 700);
      }),
    );
    assert.deepEqual(times, [0, 700]);

    let calls = 0;
    await drive(
      clock,
      policy.execute(async () => {
        calls++;
        throw fail('UNAVAILABLE', -1);
      }),
    );
    assert.equal(calls, 1);
  });

  it('never retries past the deadline, and gives up when pushback exceeds the time left', async () => {
    const clock = new FakeClock(1000);
    const policy = new RetryPolicy({ timer: clock, maxAttempts: 10, backoff: constantBackoff(100) });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    const times: number[] = [];
    await drive(
      clock,
      policy.execute(
        async () => {
          times.push(clock.now());
          throw fail('UNAVAILABLE');
        },
        { deadline: 1250 },
      ),
    );
    assert.deepEqual(times, [1000, 1100, 1200]);
    assert.ok(times.every((t) => t < 1250));

    let calls = 0;
    await drive(
      clock,
      policy.execute(
        async () => {
          calls++;
          throw fail('UNAVAILABLE', 5000);
        },
        { deadline: clock.now() + 1000 },
      ),
    );
    assert.equal(calls, 1);
    assert.deepEqual(reasons, ['deadline', 'pushback']);
  });

  it('stops at once when the caller aborts during the backoff', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ timer: clock, backoff: constantBackoff(100) });
    const ac = new AbortController();
    let calls = 0;
    const p = policy.execute(async () => {
      calls++;
      throw fail('UNAVAILABLE');
    }, ac.signal);
    await clock.advanceAsync(10);
    ac.abort();
    await assert.rejects(p, (e: unknown) => ParleyError.is(e, 'CANCELLED'));
    assert.equal(calls, 1);
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('retry budget', () => {
  async function outage(budget: TokenRetryBudget | undefined, calls: number, failRate: number, seed: number) {
    const clock = new FakeClock();
    const random = seededRandom(seed);
    const policy = new RetryPolicy({ timer: clock, maxAttempts: 3, backoff: constantBackoff(1), budget });
    let attempts = 0;
    for (let i = 0; i < calls; i++) {
      await drive(
        clock,
        policy.execute(async () => {
          attempts++;
          if (random() < failRate) throw fail('UNAVAILABLE');
        }),
      );
    }
    return attempts / calls;
  }

  it('total outage: with the budget retries add at most 10% load; without it every call makes 3 attempts', async () => {
    assert.equal(await outage(undefined, 200, 1, 1), 3);
    const ratio = await outage(new TokenRetryBudget({ maxTokens: 10, tokenRatio: 0.1 }), 200, 1, 1);
    assert.ok(ratio <= 1.1, `ratio ${ratio}`);
  });

  it('partial outage (50% failing): retries stay near tokenRatio of calls', async () => {
    const ratio = await outage(new TokenRetryBudget({ maxTokens: 10, tokenRatio: 0.1 }), 400, 0.5, 2);
    assert.ok(ratio <= 1.15, `ratio ${ratio}`);
  });

  it('refills with successes: retries come back after the outage', () => {
    const b = new TokenRetryBudget({ maxTokens: 10, tokenRatio: 0.5 });
    for (let i = 0; i < 20; i++) b.onFailure();
    assert.equal(b.tokens, 0);
    assert.equal(b.canRetry(), false);
    for (let i = 0; i < 11; i++) b.onSuccess();
    assert.equal(b.canRetry(), true);
    for (let i = 0; i < 100; i++) b.onSuccess();
    assert.equal(b.tokens, 10);
  });

  it('the registry keeps one budget per service', async () => {
    const registry = new RetryBudgetRegistry({ maxTokens: 4 });
    assert.equal(registry.for('a'), registry.for('a'));
    assert.notEqual(registry.for('a'), registry.for('b'));
    const clock = new FakeClock();
    const policy = new RetryPolicy({
      timer: clock,
      backoff: constantBackoff(1),
      budget: (call) => registry.for(call.service ?? ''),
    });
    for (let i = 0; i < 5; i++) {
      await drive(
        clock,
        policy.execute(
          async () => {
            throw fail('UNAVAILABLE');
          },
          { call: { service: 'a' } },
        ),
      );
    }
    assert.equal(registry.for('a').canRetry(), false);
    assert.equal(registry.for('b').canRetry(), true);
  });
});
