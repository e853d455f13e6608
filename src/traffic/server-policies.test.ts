import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, settle } from '../base/testing/fake-clock.js';
import { ParleyError } from '../wire/parley-error.js';
import { AimdLimit, GradientLimit } from './concurrency-limit.js';
import { CALLER_PIPELINE, resolveConfig, SERVER_PIPELINE } from './config-resolution.js';
import { IdempotencyStore } from './idempotency-store.js';
import { LoadShedder } from './load-shedder.js';

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

describe('IdempotencyStore', () => {
  it('joins a running call, returns the stored result or error within the TTL, runs again after it', async () => {
    const clock = new FakeClock();
    const store = new IdempotencyStore({ ttlMs: 1000, clock });
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
    const store = new IdempotencyStore({ clock: new FakeClock() });
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

  it('as a policy keys by ctx.call.idempotencyKey and is bounded in size', async () => {
    const store = new IdempotencyStore({ maxSize: 2, clock: new FakeClock() });
    let runs = 0;
    const fn = async () => ++runs;
    assert.equal(await store.execute(fn, { call: { idempotencyKey: 'x' } }), 1);
    assert.equal(await store.execute(fn, { call: { idempotencyKey: 'x' } }), 1);
    assert.equal(await store.execute(fn), 2, 'no key: runs');
    await store.execute(fn, { call: { idempotencyKey: 'y' } });
    await store.execute(fn, { call: { idempotencyKey: 'z' } });
    assert.equal(store.size, 2);
  });
});

describe('config resolution', () => {
  it('merges node → service → action → call, most specific wins, undefined does not override', () => {
    interface Cfg {
      timeoutMs: number;
      retry: { maxAttempts: number; codes: string[] };
      balancer: string;
    }
    const resolved = resolveConfig<Cfg>({
      node: { timeoutMs: 1000, retry: { maxAttempts: 3, codes: ['UNAVAILABLE'] }, balancer: 'round-robin' },
      service: { retry: { maxAttempts: 5 } },
      action: { timeoutMs: 200, retry: { codes: ['UNAVAILABLE', 'DEADLINE_EXCEEDED'] } },
      call: { timeoutMs: undefined, balancer: 'hash' },
    });
    assert.deepEqual(resolved, {
      timeoutMs: 200,
      retry: { maxAttempts: 5, codes: ['UNAVAILABLE', 'DEADLINE_EXCEEDED'] },
      balancer: 'hash',
    });
  });

  it('documents a fixed order: breaker outside timeout, retry outside the pick', () => {
    const caller = CALLER_PIPELINE.map(([n]) => n) as string[];
    assert.ok(caller.indexOf('circuit-breaker') < caller.indexOf('timeout'));
    assert.ok(caller.indexOf('retry') < caller.indexOf('balancer-pick'));
    assert.equal(SERVER_PIPELINE.at(-1)![0], 'handler');
  });
});
