import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import type { Context } from '../node/context.js';
import type { ParleyNode } from '../node/node.js';
import type { ServiceDefinition } from '../node/service.js';
import { ParleyError } from '../wire/parley-error.js';
import { startMesh } from './testing/test-mesh.js';
import { Traffic } from './traffic.js';
import type { TrafficPolicies } from './traffic-config.js';

/**
 * The caller pipeline's order (CALLER_PIPELINE in pipeline.ts), checked through what it does in
 * real nodes: each test depends on two stages being in their documented order, and fails when they
 * are swapped in the list (or a stage is dropped). Swapping the breaker and the timeout is the one
 * swap no test here can see: the timeout aborts the attempt, and the attempt reports the abort as
 * DEADLINE_EXCEEDED, so a breaker on either side of the timeout records the timeout as a failure.
 */

async function errorOf(p: Promise<unknown>): Promise<ParleyError> {
  try {
    await p;
  } catch (err) {
    return ParleyError.from(err);
  }
  assert.fail('expected the call to fail');
}

/** Three servers of `svc`, counting every request that reaches them; `behave` decides each answer. */
function servers(arrivals: string[], behave: (id: string, n: number, ctx: Context) => unknown): ServiceDefinition[] {
  return ['s1', 's2', 's3'].map((id) => ({
    name: 'svc',
    actions: {
      act: (_p: unknown, ctx: Context) => {
        arrivals.push(id);
        return behave(id, arrivals.length, ctx);
      },
    },
  }));
}

/** A mesh of three servers and one caller whose traffic layer has `policies` for `svc.act`. */
async function mesh(
  policies: TrafficPolicies,
  behave: (id: string, n: number, ctx: Context) => unknown,
): Promise<{ caller: ParleyNode; traffic: Traffic; arrivals: string[]; stop: () => Promise<void> }> {
  const arrivals: string[] = [];
  const traffic = new Traffic({ actions: { 'svc.act': policies } });
  const nodes = await startMesh([
    ...servers(arrivals, behave).map((s, i) => ({ id: `s${i + 1}`, services: [s] })),
    { id: 'caller', traffic },
  ]);
  return {
    caller: nodes.at(-1)!,
    traffic,
    arrivals,
    stop: () => Promise.all(nodes.map((n) => n.stop())).then(() => {}),
  };
}

const unavailable = () => {
  throw new ParleyError('UNAVAILABLE', 'down');
};
const noRetryBudget = { baseMs: 1, budget: false } as const;

describe('caller pipeline order, in real nodes', () => {
  const stops: (() => Promise<void>)[] = [];
  after(() => Promise.all(stops.map((s) => s())));

  it('fallback is outside retry: it answers only after every attempt failed', async () => {
    const m = await mesh(
      { retry: { maxAttempts: 3, ...noRetryBudget }, breaker: false, fallback: { value: 'fallback' } },
      unavailable,
    );
    stops.push(m.stop);
    assert.equal(await m.caller.call('svc.act'), 'fallback');
    assert.equal(m.arrivals.length, 3, 'three attempts before the fallback answered');
    assert.equal(new Set(m.arrivals).size, 3, 'each retry went to a node not tried yet');
  });

  it('retry is outside the action breaker: every attempt is one breaker sample', async () => {
    const m = await mesh(
      { retry: { maxAttempts: 3, ...noRetryBudget }, breaker: { scope: 'action', consecutiveFailures: 3 } },
      unavailable,
    );
    stops.push(m.stop);
    assert.equal((await errorOf(m.caller.call('svc.act'))).code, 'UNAVAILABLE');
    assert.equal(m.arrivals.length, 3);
    assert.equal(m.traffic.breakerState('svc.act'), 'open', 'three failed attempts of one call opened it');
  });

  it('timeout is inside retry: it bounds each attempt, and the retry answers in time', async () => {
    const m = await mesh(
      { idempotent: true, timeout: 50, retry: { maxAttempts: 2, ...noRetryBudget }, breaker: false },
      // The first request anywhere hangs until its attempt is cancelled; later ones answer at once.
      (id, n, ctx) =>
        n === 1
          ? new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
          : id,
    );
    stops.push(m.stop);
    const answer = await m.caller.call('svc.act', undefined, { timeout: 5_000 });
    assert.equal(m.arrivals.length, 2);
    assert.equal(answer, m.arrivals[1], 'the second attempt, on another node, answered');
    assert.notEqual(m.arrivals[0], m.arrivals[1]);
  });

  it('rate limit is inside retry: every attempt spends a token', async () => {
    const m = await mesh(
      {
        retry: { maxAttempts: 3, ...noRetryBudget },
        breaker: false,
        rateLimit: { ratePerSecond: 0.001, burst: 3, algorithm: 'token-bucket' },
      },
      unavailable,
    );
    stops.push(m.stop);
    assert.equal((await errorOf(m.caller.call('svc.act'))).code, 'UNAVAILABLE');
    assert.equal(m.arrivals.length, 3, 'three attempts, three tokens');
    const limited = await errorOf(m.caller.call('svc.act'));
    assert.equal(limited.code, 'RESOURCE_EXHAUSTED', 'the bucket is empty: the next call is refused');
    assert.equal(m.arrivals.length, 3, 'and sends nothing');
  });

  it('rate limit is inside the bulkhead: an attempt the bulkhead refuses spends no token', async () => {
    const release: (() => void)[] = [];
    const m = await mesh(
      {
        retry: false,
        breaker: false,
        bulkhead: { maxConcurrent: 1 },
        rateLimit: { ratePerSecond: 0.001, burst: 2, algorithm: 'token-bucket' },
      },
      (id) => new Promise((resolve) => release.push(() => resolve(id))),
    );
    stops.push(m.stop);
    const first = m.caller.call('svc.act');
    await waitUntil(() => release.length === 1, 5_000, 'the first call to arrive');
    const refused = await errorOf(m.caller.call('svc.act'));
    assert.equal(refused.code, 'RESOURCE_EXHAUSTED');
    assert.equal(refused.retryAfterMs, undefined, 'refused by the full bulkhead, not by the rate limit');
    release[0]!();
    await first;
    const third = m.caller.call('svc.act');
    await waitUntil(() => release.length === 2, 5_000, 'the third call to arrive');
    release[1]!();
    assert.ok(await third, 'the refused attempt left its token for this one');
  });
});
