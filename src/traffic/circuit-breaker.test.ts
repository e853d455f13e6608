import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '../wire/parley-error.js';
import { ConsecutiveFailures, CountWindow, TimeWindow } from './breaker-trips.js';
import { CircuitBreakerPolicy, type StateChange } from './circuit-breaker.js';
import { FakeClock } from './fake-clock.js';

const fail =
  (code: 'UNAVAILABLE' | 'DEADLINE_EXCEEDED' | 'INVALID_ARGUMENT' = 'UNAVAILABLE') =>
  () =>
    Promise.reject(new ParleyError(code, 'boom'));
const ok = () => Promise.resolve('ok');

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof ParleyError ? e.code : 'error';
  }
}

function breaker(
  clock: FakeClock,
  threshold = 3,
  extra: Partial<ConstructorParameters<typeof CircuitBreakerPolicy>[0]> = {},
) {
  const b = new CircuitBreakerPolicy({
    name: 'svc.a@n1',
    trip: new ConsecutiveFailures(threshold),
    clock,
    openMs: 1000,
    ...extra,
  });
  const changes: string[] = [];
  b.onStateChange((c: StateChange) => changes.push(`${c.from}->${c.to}`));
  return { b, changes };
}

describe('CircuitBreakerPolicy', () => {
  it('opens after consecutive failures and refuses at once with UNAVAILABLE and a retry-after', async () => {
    const clock = new FakeClock();
    const { b, changes } = breaker(clock);
    for (let i = 0; i < 3; i++) assert.equal(await outcome(b.execute(fail())), 'UNAVAILABLE');
    assert.equal(b.state, 'open');
    let ran = false;
    await assert.rejects(
      b.execute(async () => {
        ran = true;
      }),
      (e: unknown) =>
        e instanceof ParleyError && e.code === 'UNAVAILABLE' && e.retryAfterMs === 1000 && /svc\.a@n1/.test(e.message),
    );
    assert.equal(ran, false, 'an open circuit does not run the call');
    assert.deepEqual(changes, ['closed->open']);
  });

  it('half-open admits N probes at once and closes when they all succeed', async () => {
    const clock = new FakeClock();
    const { b, changes } = breaker(clock, 1, { halfOpenProbes: 2 });
    await outcome(b.execute(fail()));
    clock.advance(1000);
    assert.equal(b.state, 'half-open');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const p1 = b.execute(() => gate.then(ok));
    const p2 = b.execute(() => gate.then(ok));
    assert.equal(await outcome(b.execute(ok)), 'UNAVAILABLE', 'a third concurrent probe is refused');
    release();
    assert.deepEqual(await Promise.all([p1, p2]), ['ok', 'ok']);
    assert.equal(b.state, 'closed');
    assert.deepEqual(changes, ['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('a failed probe reopens for twice as long, capped at maxOpenMs', async () => {
    const clock = new FakeClock();
    const { b } = breaker(clock, 1, { maxOpenMs: 3000, halfOpenProbes: 1 });
    await outcome(b.execute(fail()));
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const refused = await b.execute(ok).catch((e: ParleyError) => e);
      waits.push((refused as ParleyError).retryAfterMs!);
      clock.advance(waits[i]!);
      await outcome(b.execute(fail()));
    }
    assert.deepEqual(waits, [1000, 2000, 3000]);
    clock.advance(3000);
    await b.execute(ok);
    assert.equal(b.state, 'closed');
    await outcome(b.execute(fail()));
    assert.equal(
      (await b.execute(ok).catch((e: ParleyError) => e.retryAfterMs)) as number,
      1000,
      'closing resets the open time',
    );
  });

  it('counts timeouts but not errors the caller caused', async () => {
    const clock = new FakeClock();
    const { b } = breaker(clock, 2);
    for (let i = 0; i < 5; i++) await outcome(b.execute(fail('INVALID_ARGUMENT')));
    assert.equal(b.state, 'closed');
    await outcome(b.execute(fail('DEADLINE_EXCEEDED')));
    await outcome(b.execute(fail('DEADLINE_EXCEEDED')));
    assert.equal(b.state, 'open');
  });

  it('fires no events while idle, and a success resets a failure streak', async () => {
    const clock = new FakeClock();
    const { b, changes } = breaker(clock, 2);
    await outcome(b.execute(fail()));
    await b.execute(ok);
    await outcome(b.execute(fail()));
    clock.advance(100_000);
    assert.equal(b.state, 'closed');
    assert.deepEqual(changes, []);
  });

  it('opens on slow calls with a slow-call-rate window', async () => {
    const clock = new FakeClock();
    const b = new CircuitBreakerPolicy({
      name: 'slow',
      clock,
      slowCallMs: 100,
      trip: new CountWindow(10, { slowRate: 0.5, minCalls: 4 }),
    });
    const slow = () =>
      b.execute(async () => {
        clock.advance(150);
        return 'late';
      });
    await slow();
    await b.execute(ok);
    await slow();
    assert.equal(b.state, 'closed', 'three calls are below minCalls');
    await slow();
    assert.equal(b.state, 'open', '3 of 4 calls were slow');
  });
});

describe('trip strategies', () => {
  it('CountWindow trips on the failure rate of the last N calls only', () => {
    const w = new CountWindow(4, { failureRate: 0.5, minCalls: 4 });
    for (const failed of [true, true, false, false]) w.record({ failed, slow: false });
    assert.equal(w.shouldTrip(), true, '2 of 4');
    for (const failed of [false, false]) w.record({ failed, slow: false });
    assert.equal(w.shouldTrip(), false, 'the two failures slid out of the window');
  });

  it('TimeWindow forgets calls older than the window', () => {
    const w = new TimeWindow(1000, { failureRate: 0.5, minCalls: 2 }, 10);
    w.record({ failed: true, slow: false }, 0);
    w.record({ failed: true, slow: false }, 50);
    assert.equal(w.shouldTrip(100), true);
    assert.equal(w.shouldTrip(1200), false, 'both failures are older than 1 s');
    w.record({ failed: false, slow: false }, 1200);
    w.record({ failed: true, slow: false }, 1210);
    assert.equal(w.shouldTrip(1220), true, '1 of 2 in the window');
  });

  it('rejects nonsensical settings', () => {
    assert.throws(() => new ConsecutiveFailures(0), TypeError);
    assert.throws(() => new CountWindow(0, {}), TypeError);
    assert.throws(() => new TimeWindow(0, {}), TypeError);
  });
});
