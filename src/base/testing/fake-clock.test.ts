import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delay } from '../abort.js';
import { FakeClock } from './fake-clock.js';

describe('FakeClock', () => {
  it('fires timers in due order (ties by creation) with now() at the due time', () => {
    const clock = new FakeClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    const cancel = clock.setTimeout(() => fired.push('never'), 5);
    cancel();
    clock.advance(15);
    assert.deepEqual(fired, ['a@110']);
    clock.advance(100);
    assert.deepEqual(fired, ['a@110', 'b@120', 'c@120']);
    assert.equal(clock.now(), 215);
    assert.equal(clock.pendingTimers, 0);
  });

  it('advanceAsync lets promise chains schedule further timers within the same advance', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const run = async () => {
      for (let i = 0; i < 3; i++) {
        await delay(clock, 10);
        times.push(clock.now());
      }
    };
    const p = run();
    await clock.advanceAsync(100);
    await p;
    assert.deepEqual(times, [10, 20, 30]);
  });

  it('delay rejects when its signal aborts and cancels its timer', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const p = delay(clock, 10, ac.signal);
    ac.abort();
    await assert.rejects(p);
    assert.equal(clock.pendingTimers, 0);
  });
});
