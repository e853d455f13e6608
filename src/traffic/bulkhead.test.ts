import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '../wire/parley-error.js';
import { BulkheadPolicy } from './bulkhead.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('BulkheadPolicy', () => {
  it('runs up to maxConcurrent, queues up to maxQueue in order, refuses the rest at once', async () => {
    const b = new BulkheadPolicy({ name: 'render', maxConcurrent: 2, maxQueue: 2 });
    const g = gate();
    const order: number[] = [];
    const calls = [0, 1, 2, 3].map((i) =>
      b.execute(async () => {
        order.push(i);
        await g.promise;
        return i;
      }),
    );
    await Promise.resolve();
    assert.equal(b.executing, 2);
    assert.equal(b.queued, 2);
    await assert.rejects(
      b.execute(async () => 'never'),
      (e: unknown) => e instanceof ParleyError && e.code === 'RESOURCE_EXHAUSTED' && /render/.test(e.message),
    );
    g.open();
    assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3]);
    assert.deepEqual(order, [0, 1, 2, 3], 'queued calls start in arrival order');
    assert.equal(b.executing, 0);
  });

  it('a queued call whose signal aborts leaves the queue with CANCELLED and frees its place', async () => {
    const b = new BulkheadPolicy({ name: 'q', maxConcurrent: 1, maxQueue: 1 });
    const g = gate();
    const first = b.execute(() => g.promise);
    const controller = new AbortController();
    const queued = b.execute(async () => 'ran', controller.signal);
    controller.abort();
    await assert.rejects(queued, (e: unknown) => e instanceof ParleyError && e.code === 'CANCELLED');
    assert.equal(b.queued, 0);
    const next = b.execute(async () => 'next');
    g.open();
    await first;
    assert.equal(await next, 'next');
  });

  it('a failing call frees its slot', async () => {
    const b = new BulkheadPolicy({ name: 'f', maxConcurrent: 1 });
    await assert.rejects(b.execute(() => Promise.reject(new Error('x'))));
    assert.equal(await b.execute(async () => 'ok'), 'ok');
  });
});
