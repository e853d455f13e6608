import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock, settle } from '../base/testing/fake-clock.js';
import { waitUntil } from '../base/testing/wait-until.js';
import type { CallOptions } from '../node/context.js';
import type { ServiceDefinition } from '../node/service.js';
import { ParleyError } from '../wire/parley-error.js';
import { AimdLimit, GradientLimit } from './concurrency-limit.js';
import { IdempotencyPolicy } from './idempotency-policy.js';
import { type IdempotencyStore, MemoryIdempotencyStore, type StoredOutcome } from './idempotency-store.js';
import { LoadShedder } from './load-shedder.js';
import { startMesh } from './testing/test-mesh.js';
import { Traffic } from './traffic.js';
import { resolvePolicies, type ServerPolicies } from './traffic-config.js';

describe('AimdLimit', () => {
  it('grows by one while in use, shrinks ×0.9 on drops, stays within bounds', () => {
    const l = new AimdLimit({ initial: 10, min: 5, max: 12 });
    l.onSample(10, 2, false);
    assert.equal(l.limit, 10, 'app-limited: no growth');
    l.onSample(10, 6, false);
    assert.equal(l.limit, 11);
    for (let i = 0; i < 5; i++) l.onSample(10, 11, false);
    assert.equal(l.limit, 12);
    l.onSample(10, 12, true);
    assert.equal(l.limit, 10); // 12 × 0.9 = 10.8
    for (let i = 0; i < 50; i++) l.onSample(10_000, 12, false);
    assert.equal(l.limit, 5);
  });
});

describe('GradientLimit', () => {
  it('shrinks when latency rises above the long-term average and recovers when it falls', () => {
    const l = new GradientLimit({ initial: 50, min: 5, max: 200, longWindow: 100 });
    for (let i = 0; i < 100; i++) l.onSample(10, l.limit, false);
    const steady = l.limit;
    assert.ok(steady >= 50, `grows with headroom at steady latency: ${steady}`);
    for (let i = 0; i < 30; i++) l.onSample(40, l.limit, false);
    assert.ok(l.limit < steady * 0.6, `shrinks under queueing: ${l.limit} vs ${steady}`);
    const low = l.limit;
    for (let i = 0; i < 200; i++) l.onSample(10, l.limit, false);
    assert.ok(l.limit > low, 'recovers');
  });
});

describe('LoadShedder', () => {
  it('sheds the lowest priority first and feeds latency to the limit', async () => {
    const clock = new FakeClock();
    const limit = new AimdLimit({ initial: 4, min: 4, max: 4 });
    const shedder = new LoadShedder({ limit, clock, priorityShares: [1, 0.75, 0.5] });
    const gates: (() => void)[] = [];
    const hold = () => new Promise<void>((r) => gates.push(r));
    const results: string[] = [];
    const call = (priority: number) =>
      shedder.execute(hold, { call: { priority } }).then(
        () => results.push(`ok${priority}`),
        (e: unknown) => results.push(ParleyError.is(e, 'RESOURCE_EXHAUSTED') ? `shed${priority}` : 'other'),
      );
    const all = [call(2), call(2), call(2), call(1), call(1), call(0), call(0)];
    await settle();
    assert.equal(shedder.inflight, 4);
    assert.deepEqual(results, ['shed2', 'shed1', 'shed0']);
    for (const g of gates) g();
    await Promise.all(all);
    assert.equal(shedder.inflight, 0);
  });
});

describe('IdempotencyPolicy', () => {
  it('joins a running call, returns the stored result or error within the TTL, runs again after it', async () => {
    const clock = new FakeClock();
    const store = new IdempotencyPolicy({ ttlMs: 1000, clock });
    let runs = 0;
    let release!: (v: string) => void;
    const handler = () => {
      runs++;
      return new Promise<string>((r) => (release = r));
    };
    const a = store.run('k', handler);
    const b = store.run('k', handler);
    release('done');
    assert.deepEqual(await Promise.all([a, b]), ['done', 'done']);
    assert.equal(runs, 1);
    clock.advance(999);
    assert.equal(await store.run('k', handler), 'done');
    assert.equal(runs, 1);
    clock.advance(1);
    const c = store.run('k', handler);
    release('again');
    assert.equal(await c, 'again');
    assert.equal(runs, 2);

    const failing = () => Promise.reject(new ParleyError('ALREADY_EXISTS', 'dup'));
    await assert.rejects(store.run('e', failing), (e: unknown) => ParleyError.is(e, 'ALREADY_EXISTS'));
    await settle();
    await assert.rejects(
      store.run('e', async () => 'ran'),
      (e: unknown) => ParleyError.is(e, 'ALREADY_EXISTS'),
    );
  });

  it('does not keep "not done" failures: a joined repeat of a cancelled run runs its own, a later repeat runs again', async () => {
    const store = new IdempotencyPolicy({ clock: new FakeClock() });
    let runs = 0;
    let fail!: (e: unknown) => void;
    const first = store.run('k', () => {
      runs++;
      return new Promise<string>((_, reject) => (fail = reject));
    });
    const joined = store.run('k', async () => {
      runs++;
      return 'second';
    });
    fail(new ParleyError('CANCELLED', 'the first caller went away'));
    await assert.rejects(first, (e: unknown) => ParleyError.is(e, 'CANCELLED'));
    assert.equal(await joined, 'second');
    assert.equal(runs, 2);
    assert.equal(await store.run('k', async () => 'third'), 'second', 'the success is kept');
    await assert.rejects(
      store.run('u', () => Promise.reject(new ParleyError('UNAVAILABLE', 'db down'))),
      (e: unknown) => ParleyError.is(e, 'UNAVAILABLE'),
    );
    await settle();
    assert.equal(await store.run('u', async () => 'ok now'), 'ok now');
  });

  it('as a policy keys by ctx.call.idempotencyKey; the memory store is bounded in size', async () => {
    const store = new MemoryIdempotencyStore({ maxSize: 2, clock: new FakeClock() });
    const policy = new IdempotencyPolicy({ store });
    let runs = 0;
    const fn = async () => ++runs;
    assert.equal(await policy.execute(fn, { call: { idempotencyKey: 'x' } }), 1);
    assert.equal(await policy.execute(fn, { call: { idempotencyKey: 'x' } }), 1);
    assert.equal(await policy.execute(fn), 2, 'no key: runs');
    await policy.execute(fn, { call: { idempotencyKey: 'y' } });
    await policy.execute(fn, { call: { idempotencyKey: 'z' } });
    assert.equal(store.size, 2);
    assert.equal(policy.running, 0);
  });

  it('with a shared asynchronous store, a repeat on another node gets the first outcome', async () => {
    // Two serving nodes' policies over one store that answers asynchronously (as the KV does).
    const map = new Map<string, StoredOutcome>();
    const writes: string[] = [];
    const shared: IdempotencyStore = {
      get: async (key) => map.get(key),
      set: async (key, outcome) => {
        await settle();
        writes.push(key);
        map.set(key, outcome);
      },
    };
    const first = new IdempotencyPolicy({ store: shared, keyPrefix: 'pay.charge/' });
    const second = new IdempotencyPolicy({ store: shared, keyPrefix: 'pay.charge/' });
    let runs = 0;
    const charge = async () => `receipt-${++runs}`;
    assert.equal(await first.run('order-1', charge), 'receipt-1');
    assert.deepEqual(writes, ['pay.charge/order-1'], 'stored before the caller was answered');
    assert.equal(await second.run('order-1', charge), 'receipt-1', 'the other node answers from the store');
    assert.equal(runs, 1);

    const declined = () => Promise.reject(new ParleyError('FAILED_PRECONDITION', 'card declined'));
    await assert.rejects(first.run('order-2', declined), (e: unknown) => ParleyError.is(e, 'FAILED_PRECONDITION'));
    await assert.rejects(second.run('order-2', charge), (e: unknown) => ParleyError.is(e, 'FAILED_PRECONDITION'));
    const busy = () => Promise.reject(new ParleyError('UNAVAILABLE', 'bank down'));
    await assert.rejects(first.run('order-3', busy), (e: unknown) => ParleyError.is(e, 'UNAVAILABLE'));
    assert.equal(await second.run('order-3', charge), 'receipt-2', 'a "not done" failure is not stored');
  });

  it('joins a run in progress on this node while the shared store is consulted', async () => {
    const shared: IdempotencyStore = { get: async () => undefined, set: async () => {} };
    const policy = new IdempotencyPolicy({ store: shared });
    let runs = 0;
    let release!: () => void;
    const slow = () => {
      runs++;
      return new Promise<string>((r) => (release = () => r('once')));
    };
    const a = policy.run('k', slow);
    const b = policy.run('k', slow);
    await settle();
    release();
    assert.deepEqual(await Promise.all([a, b]), ['once', 'once']);
    assert.equal(runs, 1);
  });
});

describe('policy levels', () => {
  it('merge node → service → action → call, most specific wins, undefined does not override', () => {
    const resolved = resolvePolicies(
      { timeout: 1000, retry: { maxAttempts: 3, retryableCodes: ['UNAVAILABLE'] }, strategy: 'round-robin' },
      { retry: { maxAttempts: 5 } },
      { timeout: 200, retry: { retryableCodes: ['UNAVAILABLE', 'DEADLINE_EXCEEDED'] } },
      { timeout: undefined, strategy: 'hash' },
    );
    assert.deepEqual(resolved, {
      timeout: 200,
      retry: { maxAttempts: 5, retryableCodes: ['UNAVAILABLE', 'DEADLINE_EXCEEDED'] },
      strategy: 'hash',
    });
  });
});

/**
 * The server pipeline's order (SERVER_PIPELINE in pipeline.ts), checked through what it does in a
 * real serving node: each test fails when the two stages it names are swapped in the list, or when
 * the stage is dropped.
 */
describe('server pipeline order, in real nodes', () => {
  const stops: (() => Promise<void>)[] = [];
  after(() => Promise.all(stops.map((s) => s())));

  /** A server whose `svc.act` waits for `release()` (when `hold`) and counts its runs; a plain caller. */
  async function serve(server: ServerPolicies, hold = false) {
    const gates: (() => void)[] = [];
    let runs = 0;
    const svc: ServiceDefinition = {
      name: 'svc',
      actions: {
        act: async () => {
          runs++;
          if (hold) await new Promise<void>((r) => gates.push(r));
          return runs;
        },
      },
    };
    const nodes = await startMesh([
      { id: 'server', services: [svc], traffic: new Traffic({ defaults: { server } }), drainTimeout: 0 },
      { id: 'caller', drainTimeout: 0 },
    ]);
    const caller = nodes[1];
    stops.push(async () => {
      for (const g of gates) g();
      await Promise.all(nodes.map((n) => n.stop()));
    });
    const call = (options: CallOptions = {}) => caller!.call('svc.act', undefined, { nodeId: 'server', ...options });
    return { call, runs: () => runs, gates, caller: caller! };
  }

  const sheddable = { initial: 2, min: 2, max: 2, priorityShares: [1, 1, 1, 0.5] } as const;

  it('idempotency: a repeated key is answered from the store, the handler runs once', async () => {
    const s = await serve({});
    assert.equal(await s.call({ idempotencyKey: 'k' }), 1);
    assert.equal(await s.call({ idempotencyKey: 'k' }), 1);
    assert.equal(s.runs(), 1);
    assert.equal(await s.call(), 2, 'a call without a key runs');
  });

  it('rate limit is outside idempotency: a repeat counts against the quota', async () => {
    const s = await serve({ rateLimit: { ratePerSecond: 0.001, burst: 1, algorithm: 'token-bucket' } });
    assert.equal(await s.call({ idempotencyKey: 'k' }), 1);
    const repeat = await errorOf(s.call({ idempotencyKey: 'k' }));
    assert.equal(repeat.code, 'RESOURCE_EXHAUSTED', 'the repeat was refused by the limit, not answered by the store');
    assert.ok(repeat.retryAfterMs !== undefined && repeat.retryAfterMs > 0);
  });

  it('bulkhead is outside idempotency: a repeat of a running call needs a slot like any call', async () => {
    const s = await serve({ bulkhead: { maxConcurrent: 1 } }, true);
    const first = s.call({ idempotencyKey: 'k' });
    await waitUntil(() => s.runs() === 1, 5_000, 'the first call to run');
    const repeat = await errorOf(s.call({ idempotencyKey: 'k' }));
    assert.equal(repeat.code, 'RESOURCE_EXHAUSTED', 'refused by the full bulkhead instead of joining the running call');
    for (const g of s.gates) g();
    assert.equal(await first, 1);
  });

  it('load shedding is outside the bulkhead: queued calls count as load and are shed', async () => {
    const s = await serve({ shedding: sheddable, bulkhead: { maxConcurrent: 1, maxQueue: 10 } }, true);
    const calls = [1, 2, 3].map(() => errorOf(s.call({ priority: 3 })).catch(() => undefined));
    await waitUntil(() => s.runs() === 1, 5_000, 'the first call to run');
    const shed = await Promise.all(calls.slice(1));
    assert.deepEqual(
      shed.map((e) => (e?.details as { reason?: string } | undefined)?.reason),
      ['load-shed', 'load-shed'],
      'the shedder saw the first call in flight and shed the sheddable ones instead of queueing them',
    );
    for (const g of s.gates) g();
  });

  it('rate limit is outside load shedding: an over-quota call is refused by the limit first', async () => {
    const s = await serve(
      { rateLimit: { ratePerSecond: 0.001, burst: 1, algorithm: 'token-bucket' }, shedding: sheddable },
      true,
    );
    const first = s.call({ priority: 3 });
    await waitUntil(() => s.runs() === 1, 5_000, 'the first call to run');
    const second = await errorOf(s.call({ priority: 3 }));
    assert.equal(second.code, 'RESOURCE_EXHAUSTED');
    assert.ok(second.retryAfterMs !== undefined, 'refused by the rate limit (with pushback), not shed');
    for (const g of s.gates) g();
    assert.equal(await first, 1);
  });
});

async function errorOf(p: Promise<unknown>): Promise<ParleyError> {
  try {
    await p;
  } catch (err) {
    return ParleyError.from(err);
  }
  assert.fail('expected the call to fail');
}
