import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from '../base/testing/fake-clock.js';
import { ParleyError } from '../wire/parley-error.js';
import { RateLimitPolicy } from './rate-limit-policy.js';
import { Gcra, type RateLimiter, TokenBucket } from './rate-limiters.js';

function admittedAt(limiter: RateLimiter, times: number[]): boolean[] {
  return times.map((t) => limiter.tryAcquire(t).ok);
}

describe('TokenBucket', () => {
  it('allows a burst of capacity, then the steady rate, and says when to retry', () => {
    const b = new TokenBucket(10, 3); // 10/s = one token per 100 ms
    assert.deepEqual(admittedAt(b, [0, 0, 0, 0]), [true, true, true, false]);
    assert.equal(b.tryAcquire(0).retryAfterMs, 100);
    assert.equal(b.tryAcquire(50).ok, false);
    assert.equal(b.tryAcquire(100).ok, true);
    assert.equal(b.tryAcquire(1000).ok, true, 'refilled');
  });
});

describe('Gcra', () => {
  it('spaces calls by the interval with a burst allowance', () => {
    const g = new Gcra(10, 2); // 100 ms apart, 1 extra call of burst
    assert.deepEqual(admittedAt(g, [0, 0, 0]), [true, true, false]);
    const refused = g.tryAcquire(10);
    assert.equal(refused.ok, false);
    assert.equal(refused.retryAfterMs, 90);
    assert.equal(g.tryAcquire(100).ok, true);
    assert.equal(g.tryAcquire(150).ok, false);
  });

  it('admits the first call of an idle key at any time (no rounding refusal)', () => {
    for (const now of [0.1, 1234.5678, 987654.321, 3.3e6 + 0.7]) {
      for (const rate of [0.1, 3, 7, 1000]) assert.ok(new Gcra(rate, 1).tryAcquire(now).ok, `rate ${rate} at ${now}`);
    }
  });

  it('never admits more than rate × time + burst (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 200 }),
        (rate, burst, gaps) => {
          const g = new Gcra(rate, burst);
          let now = 0;
          let admitted = 0;
          for (const gap of gaps) {
            now += gap;
            if (g.tryAcquire(now).ok) admitted++;
          }
          assert.ok(admitted <= Math.floor((now * rate) / 1000) + burst, `${admitted} admitted in ${now} ms`);
        },
      ),
    );
  });
});

describe('RateLimitPolicy', () => {
  it('limits per key and refuses with RESOURCE_EXHAUSTED and a retry-after', async () => {
    const clock = new FakeClock();
    const policy = new RateLimitPolicy({
      name: 'per-user',
      limiter: () => new TokenBucket(1, 2),
      key: (c) => String(c.meta?.user),
      clock,
    });
    const call = (user: string) => policy.execute(async () => 'ok', { call: { meta: { user } } });
    assert.equal(await call('ann'), 'ok');
    assert.equal(await call('ann'), 'ok');
    await assert.rejects(
      call('ann'),
      (e: unknown) =>
        e instanceof ParleyError &&
        e.code === 'RESOURCE_EXHAUSTED' &&
        e.retryAfterMs === 1000 &&
        /'ann'/.test(e.message),
    );
    assert.equal(await call('bob'), 'ok', 'another key has its own budget');
    clock.advance(1000);
    assert.equal(await call('ann'), 'ok');
  });

  it('bounds the keys it tracks by count and by idle time', async () => {
    const clock = new FakeClock();
    const policy = new RateLimitPolicy({
      name: 'per-caller',
      clock,
      limiter: () => new Gcra(1, 1),
      key: (c) => c.callerNodeId ?? '',
      maxKeys: 5,
      idleTtlMs: 1000,
    });
    for (let i = 0; i < 20; i++) await policy.execute(async () => {}, { call: { callerNodeId: `n${i}` } });
    assert.equal(policy.trackedKeys, 5);
    clock.advance(1000);
    await policy.execute(async () => {}, { call: { callerNodeId: 'x' } });
    assert.equal(policy.trackedKeys, 1);
  });
});
