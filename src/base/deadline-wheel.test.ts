import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeadlineEntry, DeadlineWheel } from './deadline-wheel.js';
import { FakeClock } from './testing/fake-clock.js';

interface Item extends DeadlineEntry {
  readonly name: string;
}

function item(name: string): Item {
  return { name, deadlineBucket: undefined, deadlinePrev: undefined, deadlineNext: undefined };
}

function setup(resolutionMs = 1, start = 0) {
  const clock = new FakeClock(start);
  const expired: string[] = [];
  const wheel = new DeadlineWheel<Item>((entry) => expired.push(`${entry.name}@${clock.now()}`), clock, resolutionMs);
  return { clock, expired, wheel };
}

describe('DeadlineWheel', () => {
  it('expires entries at their deadline, never before, in deadline order (ties in add order)', () => {
    const { clock, expired, wheel } = setup();
    wheel.add(item('late'), 30);
    wheel.add(item('a'), 10);
    wheel.add(item('b'), 10);
    wheel.add(item('mid'), 20);
    clock.advance(9);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, ['a@10', 'b@10']);
    clock.advance(100);
    assert.deepEqual(expired, ['a@10', 'b@10', 'mid@20', 'late@30']);
    assert.equal(wheel.size, 0);
    assert.equal(clock.pendingTimers, 0, 'no timer is left armed once every entry expired');
  });

  it('uses one timer for any number of entries', () => {
    const { clock, wheel } = setup();
    for (let i = 0; i < 1000; i++) wheel.add(item(`c${i}`), 10_000 + (i % 7));
    assert.equal(wheel.size, 1000);
    assert.equal(clock.pendingTimers, 1);
  });

  it('never fires a cancelled entry, and cancelling twice or after expiry is harmless', () => {
    const { clock, expired, wheel } = setup();
    const a = item('a');
    const b = item('b');
    const c = item('c');
    wheel.add(a, 10);
    wheel.add(b, 10);
    wheel.add(c, 10);
    wheel.cancel(b);
    wheel.cancel(b);
    assert.equal(wheel.size, 2);
    clock.advance(10);
    assert.deepEqual(expired, ['a@10', 'c@10']);
    wheel.cancel(a);
    assert.equal(wheel.size, 0);
  });

  it('re-arms for an earlier deadline added after a later one', () => {
    const { clock, expired, wheel } = setup();
    wheel.add(item('slow'), 1000);
    wheel.add(item('fast'), 5);
    clock.advance(5);
    assert.deepEqual(expired, ['fast@5']);
    clock.advance(995);
    assert.deepEqual(expired, ['fast@5', 'slow@1000']);
  });

  it('keeps later deadlines when the earliest bucket empties before it is due', () => {
    const { clock, expired, wheel } = setup();
    const first = item('first');
    wheel.add(first, 10);
    wheel.add(item('second'), 50);
    wheel.cancel(first);
    clock.advance(49);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, ['second@50']);
  });

  it('lets an expiry callback cancel another entry of the same slot and add new ones', () => {
    const clock = new FakeClock();
    const expired: string[] = [];
    const b = item('b');
    const wheel: DeadlineWheel<Item> = new DeadlineWheel<Item>((entry) => {
      expired.push(`${entry.name}@${clock.now()}`);
      if (entry.name === 'a') {
        wheel.cancel(b);
        wheel.add(item('again'), 3);
      }
    }, clock);
    wheel.add(item('a'), 10);
    wheel.add(b, 10);
    wheel.add(item('c'), 10);
    wheel.add(item('later'), 20);
    clock.advance(100);
    assert.deepEqual(expired, ['a@10', 'c@10', 'again@13', 'later@20']);
  });

  it('rounds deadlines up to the next slot with a coarse resolution', () => {
    const { clock, expired, wheel } = setup(10, 3);
    wheel.add(item('x'), 1); // due at 4, slot [10, 20) starts at 10
    wheel.add(item('y'), 7); // due at 10
    clock.advance(6);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, ['x@10', 'y@10']);
  });

  it('waits out a timer that fires before its slot has started (Node timers can be a millisecond early)', () => {
    const expired: string[] = [];
    let now = 0;
    const armed: { fire: (() => void) | undefined } = { fire: undefined };
    const earlyTimer = {
      now: () => now,
      setTimeout(fn: () => void) {
        armed.fire = fn;
        return () => {
          armed.fire = undefined;
        };
      },
    };
    const wheel = new DeadlineWheel<Item>((entry) => expired.push(`${entry.name}@${now}`), earlyTimer);
    wheel.add(item('a'), 10);
    now = 9.5;
    const early = armed.fire!;
    armed.fire = undefined;
    early();
    assert.deepEqual(expired, [], 'nothing expires before its deadline');
    const rearmed = (armed as { fire: (() => void) | undefined }).fire;
    assert.ok(rearmed, 'the wheel re-armed');
    now = 10;
    rearmed();
    assert.deepEqual(expired, ['a@10']);
  });

  it('keeps one timer while idle instead of re-arming per entry, and it expires nothing', () => {
    const { clock, expired, wheel } = setup();
    const a = item('a');
    wheel.add(a, 10);
    wheel.cancel(a);
    assert.equal(clock.pendingTimers, 1, 'the timer stays armed when the wheel empties');
    for (let i = 0; i < 100; i++) {
      const b = item(`b${i}`);
      wheel.add(b, 10);
      wheel.cancel(b);
    }
    assert.equal(clock.pendingTimers, 1, 'one timer for any number of add/cancel pairs');
    clock.advance(10);
    assert.equal(clock.pendingTimers, 0, 'an idle wheel does not re-arm when its timer fires');
    wheel.add(item('c'), 5);
    clock.advance(5);
    assert.deepEqual(expired, ['c@15']);
  });

  it('one entry at a time: an emptied last slot is reused, and entries in it or later ones still expire on time', () => {
    const { clock, expired, wheel } = setup();
    for (let i = 0; i < 5; i++) {
      const a = item(`a${i}`);
      wheel.add(a, 10);
      wheel.cancel(a);
    }
    wheel.add(item('same-slot'), 10);
    const later = item('later');
    wheel.add(later, 30);
    wheel.cancel(later);
    wheel.add(item('after'), 20);
    assert.equal(wheel.size, 2);
    clock.advance(10);
    assert.deepEqual(expired, ['same-slot@10']);
    clock.advance(10);
    assert.deepEqual(expired, ['same-slot@10', 'after@20']);
    assert.equal(wheel.size, 0);
    // The kept (empty) bucket of slot 30 expires nothing and leaves no timer behind.
    clock.advance(100);
    assert.deepEqual(expired, ['same-slot@10', 'after@20']);
    assert.equal(clock.pendingTimers, 0);
    const b = item('b');
    wheel.add(b, 5);
    wheel.cancel(b);
    wheel.add(item('c'), 7);
    clock.advance(7);
    assert.deepEqual(expired.slice(2), ['c@127']);
  });

  it('clear() drops every entry and the timer', () => {
    const { clock, expired, wheel } = setup();
    wheel.add(item('a'), 10);
    wheel.add(item('b'), 20);
    wheel.clear();
    assert.equal(wheel.size, 0);
    assert.equal(clock.pendingTimers, 0);
    clock.advance(100);
    assert.deepEqual(expired, []);
  });
});
