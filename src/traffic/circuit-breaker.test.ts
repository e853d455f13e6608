import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../base/testing/fake-clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import { breakerKey, CircuitBreakerRegistry } from './breaker-registry.js';
import { CircuitBreaker, isBrokenCircuit, type StateChange } from './circuit-breaker.js';
import { ConsecutiveFailures } from './consecutive-breaker.js';
import { CountWindow } from './count-window-breaker.js';
import { TimeWindow } from './time-window-breaker.js';

const ok = async () => 'ok';
const failWith = (code: ErrorCode) => async () => {
  throw new ParleyError(code, code);
};

async function run(b: CircuitBreaker, fn: () => Promise<unknown>): Promise<'ok' | 'failed' | 'rejected'> {
  try {
    await b.execute(fn);
    return 'ok';
  } catch (err) {
    return isBrokenCircuit(err) ? 'rejected' : 'failed';
  }
}

function setup(options: Partial<ConstructorParameters<typeof CircuitBreaker>[0]> = {}) {
  const clock = new FakeClock();
  const b = new CircuitBreaker({
    name: 'svc.act',
    clock,
    strategy: new ConsecutiveFailures(3),
    openMs: 1000,
    ...options,
  });
  const events: string[] = [];
  b.onStateChange((e: StateChange) => events.push(`${e.from}->${e.to}`));
  return { clock, b, events };
}

describe('CircuitBreaker', () => {
  it('opens after the strategy says so and rejects with UNAVAILABLE naming the breaker', async () => {
    const { b, events } = setup();
    for (let i = 0; i < 3; i++) assert.equal(await run(b, failWith('UNAVAILABLE')), 'failed');
    assert.equal(b.state, 'open');
    const err = await b.execute(ok).catch((e: unknown) => e);
    assert.ok(ParleyError.is(err, 'UNAVAILABLE'));
    assert.match((err as Error).message, /svc\.act/);
    assert.ok(isBrokenCircuit(err));
    assert.deepEqual(events, ['closed->open']);
  });

  it('counts timeouts as failures and ignores cancellations; client errors count as successes', async () => {
    const { b } = setup();
    await run(b, failWith('DEADLINE_EXCEEDED'));
    await run(b, failWith('DEADLINE_EXCEEDED'));
    await run(b, failWith('CANCELLED'));
    await run(b, failWith('DEADLINE_EXCEEDED'));
    assert.equal(b.state, 'open');

    const { b: b2 } = setup();
    await run(b2, failWith('UNAVAILABLE'));
    await run(b2, failWith('UNAVAILABLE'));
    await run(b2, failWith('INVALID_ARGUMENT'));
    await run(b2, failWith('UNAVAILABLE'));
    assert.equal(b2.state, 'closed');
  });

  it('stays open for openMs, then admits N probes (not 1) and closes after they succeed', async () => {
    const { clock, b, events } = setup({ halfOpenProbes: 3 });
    for (let i = 0; i < 3; i++) await run(b, failWith('UNAVAILABLE'));
    clock.advance(999);
    assert.equal(await run(b, ok), 'rejected');
    clock.advance(1);
    assert.equal(b.state, 'half-open');
    assert.deepEqual(events, ['closed->open'], 'no event fires while idle');

    // Three probes in flight at once; a fourth concurrent call is rejected.
    const gates: (() => void)[] = [];
    const probe = () => new Promise<string>((resolve) => gates.push(() => resolve('ok')));
    const probes = [b.execute(probe), b.execute(probe), b.execute(probe)];
    assert.equal(await run(b, ok), 'rejected');
    gates[0]!();
    gates[1]!();
    await Promise.all(probes.slice(0, 2));
    assert.equal(b.state, 'half-open');
    gates[2]!();
    await probes[2];
    assert.equal(b.state, 'closed');
    assert.deepEqual(events, ['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('reopens on a probe failure with a longer open period (backoff), and resets the backoff on close', async () => {
    const { clock, b } = setup({ openMs: 1000, openBackoffMultiplier: 2, maxOpenMs: 3000, halfOpenProbes: 1 });
    const opens: number[] = [];
    b.onStateChange((e) => e.openMs !== undefined && opens.push(e.openMs));
    for (let i = 0; i < 3; i++) await run(b, failWith('UNAVAILABLE'));
    clock.advance(1000);
    assert.equal(await run(b, failWith('UNAVAILABLE')), 'failed');
    assert.equal(b.state, 'open');
    clock.advance(1999);
    assert.equal(await run(b, ok), 'rejected');
    clock.advance(1);
    await run(b, failWith('UNAVAILABLE'));
    clock.advance(3000);
    await run(b, failWith('UNAVAILABLE'));
    clock.advance(3000);
    assert.equal(await run(b, ok), 'ok');
    assert.equal(b.state, 'closed');
    for (let i = 0; i < 3; i++) await run(b, failWith('UNAVAILABLE'));
    assert.deepEqual(opens, [1000, 2000, 3000, 3000, 1000]);
  });

  it('with halfOpenSuccesses < probes, tolerates some probe failures', async () => {
    const { clock, b } = setup({ halfOpenProbes: 4, halfOpenSuccesses: 3 });
    for (let i = 0; i < 3; i++) await run(b, failWith('UNAVAILABLE'));
    clock.advance(1000);
    await run(b, failWith('UNAVAILABLE'));
    assert.equal(b.state, 'half-open');
    await run(b, ok);
    await run(b, ok);
    await run(b, ok);
    assert.equal(b.state, 'closed');
  });

  it('does not credit a call to a later state period', async () => {
    const { clock, b } = setup();
    let release!: () => void;
    const slow = b.execute(
      () =>
        new Promise<void>((_, reject) => {
          release = () => reject(new ParleyError('UNAVAILABLE', 'late'));
        }),
    );
    for (let i = 0; i < 3; i++) await run(b, failWith('UNAVAILABLE'));
    clock.advance(1000);
    await run(b, ok);
    await run(b, ok);
    release();
    await slow.catch(() => {});
    assert.equal(b.state, 'half-open', 'the late failure from the closed period is not a probe failure');
  });

  it('a cancelled probe frees its slot', async () => {
    const { clock, b } = setup({ halfOpenProbes: 1 });
    for (let i = 0; i < 3; i++) await run(b, failWith('UNAVAILABLE'));
    clock.advance(1000);
    await run(b, failWith('CANCELLED'));
    assert.equal(await run(b, ok), 'ok');
    assert.equal(b.state, 'closed');
  });

  it('slow calls open a breaker with a slow-call-rate threshold', async () => {
    const clock = new FakeClock();
    const b = new CircuitBreaker({
      name: 's',
      clock,
      slowCallMs: 100,
      strategy: new CountWindow({ size: 10, minimumCalls: 5, slowCallRate: 0.6 }),
    });
    const slowOk = async () => {
      clock.advance(150);
      return 'ok';
    };
    for (let i = 0; i < 2; i++) await run(b, ok);
    for (let i = 0; i < 2; i++) await run(b, slowOk);
    assert.equal(b.state, 'closed');
    await run(b, slowOk);
    assert.equal(b.state, 'open');
  });

  it('reset() closes it', async () => {
    const { b } = setup();
    for (let i = 0; i < 3; i++) await run(b, failWith('UNAVAILABLE'));
    b.reset();
    assert.equal(b.state, 'closed');
    assert.equal(await run(b, ok), 'ok');
  });
});

describe('breaker strategies', () => {
  it('ConsecutiveFailures: a success resets the run', () => {
    const s = new ConsecutiveFailures(3);
    const f = { failure: true, slow: false };
    const o = { failure: false, slow: false };
    assert.deepEqual(
      [f, f, o, f, f, f].map((x) => s.record(x)),
      [false, false, false, false, false, true],
    );
  });

  it('CountWindow: failure rate over the last N calls, only after minimumCalls', () => {
    const s = new CountWindow({ size: 4, minimumCalls: 4, failureRate: 0.5 });
    const f = { failure: true, slow: false };
    const o = { failure: false, slow: false };
    assert.equal(s.record(f), false, 'below minimum calls');
    assert.equal(s.record(f), false);
    assert.equal(s.record(o), false);
    assert.equal(s.record(o), true, '2/4 = 50%');
    s.reset();
    for (const x of [o, o, o, f]) assert.equal(s.record(x), false);
    assert.equal(s.record(f), true, 'window o,o,f,f = 50%');
  });

  it('CountWindow: old samples slide out', () => {
    const s = new CountWindow({ size: 3, minimumCalls: 3, failureRate: 0.6 });
    const f = { failure: true, slow: false };
    const o = { failure: false, slow: false };
    assert.deepEqual(
      [f, o, o, o, f, f].map((x) => s.record(x)),
      [false, false, false, false, false, true],
    );
  });

  it('TimeWindow: counts only calls within the window', () => {
    const s = new TimeWindow({ windowMs: 1000, bucketMs: 100, minimumCalls: 4, failureRate: 0.5 });
    const f = { failure: true, slow: false };
    const o = { failure: false, slow: false };
    assert.equal(s.record(f, 0), false);
    assert.equal(s.record(f, 50), false);
    assert.equal(s.record(f, 120), false, '3 calls < minimum');
    // At 1100 the buckets of t=0 and t=50 have left the window.
    assert.deepEqual(s.totals(1100), { calls: 1, failures: 1, slow: 0 });
    assert.equal(s.record(o, 1100), false);
    assert.equal(s.record(o, 1150), false);
    assert.equal(s.record(f, 1160), true, '2 of 4 failed');
    assert.deepEqual(s.totals(5000), { calls: 0, failures: 0, slow: 0 });
  });
});

describe('CircuitBreakerRegistry', () => {
  it('keeps one breaker per key; an open one stops admitting until it is due for probing', async () => {
    const clock = new FakeClock();
    const registry = new CircuitBreakerRegistry({ breaker: { clock, openMs: 1000 } });
    const events: string[] = [];
    registry.onStateChange((e) => events.push(`${e.breaker}:${e.to}`));
    const key = breakerKey('users.get', 'n2');
    assert.equal(registry.get(key), registry.get(key));
    for (let i = 0; i < 5; i++)
      await registry
        .get(key)
        .execute(failWith('UNAVAILABLE'))
        .catch(() => {});
    assert.equal(registry.admits(key), false);
    assert.equal(registry.admits(breakerKey('users.get', 'n1')), true, 'a key never used admits');
    clock.advance(1000);
    assert.equal(registry.admits(key), true, 'due for probing: the balancer may pick it again');
    assert.deepEqual(events, ['users.get@n2:open']);
  });

  it('per-key options', async () => {
    const registry = new CircuitBreakerRegistry({
      breaker: (key) => ({ strategy: () => new ConsecutiveFailures(key === 'fragile' ? 1 : 100) }),
    });
    await registry
      .get('fragile')
      .execute(failWith('UNAVAILABLE'))
      .catch(() => {});
    await registry
      .get('sturdy')
      .execute(failWith('UNAVAILABLE'))
      .catch(() => {});
    assert.equal(registry.get('fragile').state, 'open');
    assert.equal(registry.get('sturdy').state, 'closed');
  });

  it('bounds the number of breakers but never evicts an open one', async () => {
    const registry = new CircuitBreakerRegistry({
      maxBreakers: 3,
      breaker: { strategy: () => new ConsecutiveFailures(1) },
    });
    await registry
      .get('open')
      .execute(failWith('UNAVAILABLE'))
      .catch(() => {});
    for (let i = 0; i < 10; i++) registry.get(`k${i}`);
    assert.ok(registry.size <= 3);
    assert.equal(registry.admits('open'), false);
  });
});
