import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../base/testing/fake-clock.js';
import { Redialer } from './redialer.js';

describe('Redialer', () => {
  // random() just under 1: every delay is just under its cap, so the caps are visible.
  const make = () => {
    const clock = new FakeClock();
    const redialer = new Redialer({ timer: clock, random: () => 0.9999, backoff: { baseMs: 100, maxMs: 1000 } });
    /** Schedules a redial of `peer` and returns how long it took to fire. */
    const delay = (peer: string): number => {
      const from = clock.now();
      let firedAt = Number.NaN;
      redialer.schedule(peer, () => {
        firedAt = clock.now();
      });
      clock.advance(5000);
      return firedAt - from;
    };
    return { clock, redialer, delay };
  };

  it('backs off exponentially per peer up to maxMs, and starts over after reset', () => {
    const { redialer, delay } = make();
    assert.deepEqual([delay('a'), delay('a'), delay('a'), delay('a'), delay('a')], [99, 199, 399, 799, 999]);
    assert.equal(delay('b'), 99, 'each peer has its own count');
    redialer.reset('a');
    assert.equal(delay('a'), 99);
  });

  it('keeps one timer per peer, and nothing fires after cancelAll', () => {
    const { clock, redialer } = make();
    let fired = 0;
    redialer.schedule('a', () => fired++);
    redialer.schedule('a', () => fired++);
    redialer.schedule('b', () => fired++);
    assert.equal(clock.pendingTimers, 2);
    assert.equal(redialer.isScheduled('a'), true);
    redialer.cancelAll();
    clock.advance(10_000);
    assert.equal(fired, 0);
    assert.equal(redialer.isScheduled('a'), false);
  });
});
