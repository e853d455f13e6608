import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DriverScheduler } from '../../raft/driver.js';
import { SharedScheduler } from './shared-scheduler.js';

/** A base scheduler the test drives by hand: timers fire on `fire(ms)`, deferred work on `runDeferred()`. */
class ManualBase implements DriverScheduler {
  readonly timers = new Map<number, () => void>();
  created = 0;
  private deferred: (() => void)[] = [];

  every(ms: number, fn: () => void): () => void {
    assert.equal(this.timers.has(ms), false, 'one timer per period');
    this.created++;
    this.timers.set(ms, fn);
    return () => this.timers.delete(ms);
  }

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  get pending(): number {
    return this.deferred.length;
  }

  fire(ms: number): void {
    this.timers.get(ms)!();
  }

  runDeferred(): void {
    const fns = this.deferred;
    this.deferred = [];
    for (const fn of fns) fn();
  }
}

describe('SharedScheduler', () => {
  it('ticks a hundred groups from one timer, and stops it when the last one leaves', () => {
    const base = new ManualBase();
    const shared = new SharedScheduler(base);
    const ticks = new Array(100).fill(0);
    const cancels = ticks.map((_, i) => shared.every(50, () => ticks[i]++));
    assert.equal(base.created, 1);
    assert.equal(shared.timers, 1);
    base.fire(50);
    base.fire(50);
    assert.ok(ticks.every((t) => t === 2));
    for (const cancel of cancels.slice(1)) cancel();
    base.fire(50);
    assert.deepEqual([ticks[0], ticks[1]], [3, 2]);
    cancels[0]!();
    assert.equal(base.timers.size, 0);
    assert.equal(shared.timers, 0);
  });

  it('runs everything deferred before a turn in one turn, then the after-turn hooks once', () => {
    const base = new ManualBase();
    const shared = new SharedScheduler(base);
    const log: string[] = [];
    shared.afterTurn(() => log.push('flush'));
    shared.defer(() => log.push('a'));
    shared.defer(() => {
      log.push('b');
      shared.defer(() => log.push('c')); // deferred during a turn: the next turn
    });
    assert.equal(base.pending, 1, 'one base deferral for the whole turn');
    base.runDeferred();
    assert.deepEqual(log, ['a', 'b', 'flush']);
    base.runDeferred();
    assert.deepEqual(log, ['a', 'b', 'flush', 'c', 'flush']);
    assert.equal(base.pending, 0);
  });

  it('requestTurn outside a turn schedules one; inside a turn the running one serves it', () => {
    const base = new ManualBase();
    const shared = new SharedScheduler(base);
    let flushes = 0;
    shared.afterTurn(() => flushes++);
    shared.requestTurn();
    shared.requestTurn();
    assert.equal(base.pending, 1);
    shared.defer(() => shared.requestTurn());
    base.runDeferred();
    assert.equal(flushes, 1);
    assert.equal(base.pending, 0);
  });

  it('a function that throws does not keep the rest of its turn from running; the error surfaces after', () => {
    const base = new ManualBase();
    const shared = new SharedScheduler(base);
    const ran: string[] = [];
    shared.afterTurn(() => ran.push('flush'));
    shared.defer(() => {
      throw new Error('disk full');
    });
    shared.defer(() => ran.push('other group'));
    assert.throws(() => base.runDeferred(), /disk full/);
    assert.deepEqual(ran, ['other group', 'flush']);
    shared.defer(() => ran.push('next'));
    base.runDeferred();
    assert.deepEqual(ran, ['other group', 'flush', 'next', 'flush']);
  });
});
