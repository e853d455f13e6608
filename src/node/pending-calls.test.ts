import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../base/testing/fake-clock.js';
import { ParleyError } from '../wire/parley-error.js';
import { PendingCalls } from './pending-calls.js';

function setup() {
  const clock = new FakeClock();
  const gaveUp: string[] = [];
  const calls = new PendingCalls({ timer: clock, onGiveUp: (peerId, id) => gaveUp.push(`${peerId}#${id}`) });
  return { clock, gaveUp, calls };
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    (v) => `ok:${String(v)}`,
    (e: ParleyError) => e.code,
  );
}

describe('PendingCalls', () => {
  it('settles a call once, only from the peer it was sent to', async () => {
    const { calls } = setup();
    const { id, promise } = calls.create('p1', 'svc.a', 1000, undefined);
    assert.equal(calls.settle(id, 'p2', 'wrong peer'), false);
    assert.equal(calls.settle(id + 1, 'p1', 'wrong id'), false);
    assert.equal(calls.settle(id, 'p1', 'yes'), true);
    assert.equal(calls.settle(id, 'p1', 'again'), false);
    assert.equal(await outcome(promise), 'ok:yes');
    assert.equal(calls.size, 0);
  });

  it('rejects with DEADLINE_EXCEEDED at the deadline, not before, and gives up (CANCEL)', async () => {
    const { clock, gaveUp, calls } = setup();
    const { id, promise } = calls.create('p1', 'svc.slow', 100, undefined);
    const answered = calls.create('p1', 'svc.fast', 100, undefined);
    clock.advance(50);
    calls.settle(answered.id, 'p1', 'done');
    clock.advance(49);
    assert.equal(calls.size, 1, 'not expired before the deadline');
    clock.advance(1);
    assert.equal(await outcome(promise), 'DEADLINE_EXCEEDED');
    assert.deepEqual(gaveUp, [`p1#${id}`], 'only the expired call is cancelled at the peer');
    assert.equal(await outcome(answered.promise), 'ok:done');
    assert.equal(calls.settle(id, 'p1', 'late answer'), false, 'a late response is ignored');
    assert.equal(clock.pendingTimers, 0);
  });

  it('a call without a timeout never expires', () => {
    const { clock, calls } = setup();
    calls.create('p1', 'svc.watch', 0, undefined);
    assert.equal(clock.pendingTimers, 0);
    clock.advance(1e9);
    assert.equal(calls.size, 1);
  });

  it('rejects with CANCELLED when the signal aborts, and gives up', async () => {
    const { gaveUp, calls } = setup();
    const controller = new AbortController();
    const { id, promise } = calls.create('p1', 'svc.a', 1000, controller.signal);
    controller.abort();
    assert.equal(await outcome(promise), 'CANCELLED');
    assert.deepEqual(gaveUp, [`p1#${id}`]);
  });

  it('rejects with DEADLINE_EXCEEDED when the signal is a context cut off by its deadline', async () => {
    const { gaveUp, calls } = setup();
    const parent = new AbortController();
    const { id, promise } = calls.create('p3', 'svc.sleep', 60_000, parent.signal);
    parent.abort(new ParleyError('DEADLINE_EXCEEDED', 'the outer call ran out of time'));
    assert.equal(await outcome(promise), 'DEADLINE_EXCEEDED');
    assert.deepEqual(gaveUp, [`p3#${id}`]);
  });

  it('keeps ids unique among pending calls while thousands come and go around long-running ones', async () => {
    const { calls } = setup();
    const longRunning = [calls.create('p1', 'svc.watch', 0, undefined), calls.create('p1', 'svc.watch', 0, undefined)];
    const live = new Map<number, Promise<unknown>>();
    for (const c of longRunning) live.set(c.id, c.promise);
    for (let round = 0; round < 50; round++) {
      const batch = Array.from({ length: 100 + round * 10 }, () => calls.create('p1', 'svc.a', 0, undefined));
      for (const c of batch) {
        assert.equal(live.has(c.id), false, `id ${c.id} handed out twice`);
        live.set(c.id, c.promise);
      }
      for (const c of batch) {
        assert.equal(calls.settle(c.id, 'p1', c.id), true);
        assert.equal(await c.promise, c.id, 'each response reaches its own caller');
        live.delete(c.id);
      }
    }
    assert.equal(calls.size, 2);
    for (const c of longRunning) assert.equal(calls.settle(c.id, 'p1', 'end'), true);
    assert.equal(calls.size, 0);
  });

  it('fails the calls of one peer, or all of them', async () => {
    const { calls } = setup();
    const a = calls.create('p1', 'svc.a', 1000, undefined);
    const b = calls.create('p2', 'svc.b', 1000, undefined);
    const c = calls.create('p1', 'svc.c', 0, undefined);
    const actions: string[] = [];
    calls.failPeer('p1', (action) => {
      actions.push(action);
      return new ParleyError('UNAVAILABLE', 'gone');
    });
    assert.deepEqual(actions, ['svc.a', 'svc.c']);
    assert.equal(await outcome(a.promise), 'UNAVAILABLE');
    assert.equal(await outcome(c.promise), 'UNAVAILABLE');
    assert.equal(calls.size, 1);
    calls.failAll(() => new ParleyError('UNAVAILABLE', 'stopping'));
    assert.equal(await outcome(b.promise), 'UNAVAILABLE');
    assert.equal(calls.size, 0);
  });

  it('leaves no timer behind after failAll (a stopped node holds no timer)', () => {
    const { clock, calls } = setup();
    const a = calls.create('p1', 'svc.a', 1000, undefined);
    calls.settle(a.id, 'p1', 'done');
    calls.create('p1', 'svc.b', 1000, undefined).promise.catch(() => {});
    assert.equal(clock.pendingTimers, 1);
    calls.failAll(() => new ParleyError('UNAVAILABLE', 'stopping'));
    assert.equal(clock.pendingTimers, 0);
  });
});
