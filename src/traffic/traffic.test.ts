import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from '../node/context.js';
import type { Middleware } from '../node/middleware.js';
import type { ParleyNode } from '../node/node.js';
import type { ServiceDefinition } from '../node/service.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { ParleyError } from '../wire/parley-error.js';
import { isBrokenCircuit, type StateChange } from './circuit-breaker.js';
import { startMesh } from './testing/test-mesh.js';
import { Traffic } from './traffic.js';

/** Multi-node tests of the traffic layer installed in real nodes on an in-memory network. */

async function stop(nodes: ParleyNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
}

/** Resolves after `ms`, or rejects with the context's abort reason as soon as the call is cancelled. */
function sleep(ms: number, ctx: Context): Promise<void> {
  const signal = ctx.signal;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** A server-side middleware (outside traffic) counting the requests that reach each action on one node. */
function arrivals(counts: Map<string, number>, nodeId: string): Middleware {
  return {
    name: 'arrivals',
    action: (next) => (params, ctx) => {
      const key = `${nodeId}:${ctx.action}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return next(params, ctx);
    },
  };
}

async function codeOf(p: Promise<unknown>): Promise<ParleyError> {
  try {
    await p;
  } catch (err) {
    return ParleyError.from(err);
  }
  assert.fail('expected the call to fail');
}

describe('traffic layer in a mesh', () => {
  it('a per-node breaker opens on timeouts and takes the node out of balancing', async () => {
    const served = new Map<string, number>();
    const svc = (id: string, slow: boolean): ServiceDefinition => ({
      name: 'slow',
      actions: {
        get: async (_p: unknown, ctx: Context) => {
          served.set(id, (served.get(id) ?? 0) + 1);
          if (slow) await sleep(10_000, ctx);
          return id;
        },
      },
    });
    const caller = new Traffic({
      actions: {
        'slow.get': {
          strategy: 'round-robin',
          timeout: 100,
          retry: false,
          breaker: { consecutiveFailures: 3, openMs: 60_000 },
        },
      },
    });
    const changes: StateChange[] = [];
    caller.onBreakerStateChange((e) => changes.push(e));
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      { id: 's1', services: [svc('s1', true)] },
      { id: 's2', services: [svc('s2', false)] },
    ]);
    try {
      const c = nodes[0]!;
      let timeouts = 0;
      for (let i = 0; i < 50 && caller.breakerState('slow.get', 's1') !== 'open'; i++) {
        try {
          assert.equal(await c.call('slow.get', {}), 's2');
        } catch (err) {
          assert.equal(ParleyError.from(err).code, 'DEADLINE_EXCEEDED');
          timeouts++;
        }
      }
      assert.equal(caller.breakerState('slow.get', 's1'), 'open');
      assert.equal(timeouts, 3, 'three timeouts in a row opened the breaker');
      assert.deepEqual(
        changes.map((e) => [e.breaker, e.from, e.to]),
        [['slow.get@s1', 'closed', 'open']],
      );
      const s1Before = served.get('s1');
      for (let i = 0; i < 10; i++) assert.equal(await c.call('slow.get', {}), 's2');
      assert.equal(served.get('s1'), s1Before, 'no call reached the node with the open breaker');
    } finally {
      await stop(nodes);
    }
  });

  it("a per-action breaker (scope 'action') opens on timeouts and rejects at once", async () => {
    let served = 0;
    const caller = new Traffic({
      actions: {
        'slow.get': { timeout: 50, retry: false, breaker: { scope: 'action', consecutiveFailures: 2, openMs: 60_000 } },
      },
    });
    const changes: string[] = [];
    caller.onBreakerStateChange((e) => changes.push(`${e.breaker}:${e.to}`));
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      {
        id: 's1',
        services: [
          {
            name: 'slow',
            actions: {
              get: async (_p: unknown, ctx: Context) => {
                served++;
                await sleep(10_000, ctx);
              },
            },
          },
        ],
      },
    ]);
    try {
      const c = nodes[0]!;
      assert.equal((await codeOf(c.call('slow.get'))).code, 'DEADLINE_EXCEEDED');
      assert.equal((await codeOf(c.call('slow.get'))).code, 'DEADLINE_EXCEEDED');
      assert.equal(caller.breakerState('slow.get'), 'open');
      assert.deepEqual(changes, ['slow.get:open']);
      assert.ok(isBrokenCircuit(await codeOf(c.call('slow.get'))));
      assert.equal(served, 2);
    } finally {
      await stop(nodes);
    }
  });

  it('with every node broken, an open breaker fails fast and the fallback answers', async () => {
    let served = 0;
    const caller = new Traffic({
      defaults: { retry: false, breaker: { consecutiveFailures: 2, openMs: 60_000 } },
      actions: { 'flaky.get': { fallback: { value: 'cached' } } },
    });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      {
        id: 's1',
        services: [
          {
            name: 'flaky',
            actions: {
              get: () => {
                served++;
                throw new ParleyError('UNAVAILABLE', 'down');
              },
              raw: () => {
                served++;
                throw new ParleyError('UNAVAILABLE', 'down');
              },
            },
          },
        ],
      },
    ]);
    try {
      const c = nodes[0]!;
      assert.equal(await c.call('flaky.get'), 'cached');
      assert.equal(await c.call('flaky.get'), 'cached');
      assert.equal(served, 2);
      assert.equal(await c.call('flaky.get'), 'cached', 'the fallback answers while the breaker is open');
      assert.equal(served, 2, 'the open breaker kept the call from the node');
      await codeOf(c.call('flaky.raw'));
      await codeOf(c.call('flaky.raw'));
      const err = await codeOf(c.call('flaky.raw'));
      assert.ok(isBrokenCircuit(err), `expected a circuit-open rejection, got ${err.code}: ${err.message}`);
      assert.equal(served, 4);
    } finally {
      await stop(nodes);
    }
  });

  it('local runs and calls to a given nodeId are not judged by per-node breakers', async () => {
    let runs = 0;
    const broken: ServiceDefinition = {
      name: 'loc',
      actions: {
        get: () => {
          runs++;
          throw new ParleyError('INTERNAL', 'broken');
        },
      },
    };
    const traffic = new Traffic({ defaults: { retry: false, breaker: { consecutiveFailures: 1 } } });
    const nodes = await startMesh([
      { id: 'c', traffic, services: [broken] },
      { id: 's1', services: [broken] },
    ]);
    try {
      for (let i = 1; i <= 3; i++) {
        const err = await codeOf(nodes[0]!.call('loc.get'));
        assert.equal(err.code, 'INTERNAL', 'the local handler ran and its own error came back');
        assert.equal(runs, i);
      }
      for (let i = 1; i <= 3; i++) {
        assert.equal((await codeOf(nodes[0]!.call('loc.get', {}, { nodeId: 's1' }))).code, 'INTERNAL');
      }
      assert.equal(runs, 6);
    } finally {
      await stop(nodes);
    }
  });

  it('hash strategy keyed from params (hashOn): a key sticks to one node; keys spread', async () => {
    const svc = (id: string): ServiceDefinition => ({ name: 'kv', actions: { get: () => id } });
    const caller = new Traffic({ actions: { 'kv.get': { strategy: 'hash', hashOn: 'params.key' } } });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      { id: 's1', services: [svc('s1')] },
      { id: 's2', services: [svc('s2')] },
      { id: 's3', services: [svc('s3')] },
    ]);
    try {
      const owner = new Map<string, unknown>();
      for (let k = 0; k < 30; k++) owner.set(`k${k}`, await nodes[0]!.call('kv.get', { key: `k${k}` }));
      for (const [key, node] of owner) assert.equal(await nodes[0]!.call('kv.get', { key }), node, key);
      assert.equal(new Set(owner.values()).size, 3, 'keys spread over the three nodes');
      assert.throws(
        () => new Traffic({ actions: { 'kv.get': { hashOn: 'body.key' } } }).policiesOf('kv.get'),
        /must be 'params.<name>' or 'meta.<name>'/,
      );
    } finally {
      await stop(nodes);
    }
  });

  it('retries move to another node', async () => {
    const seen = new Map<number, string[]>();
    const svc = (id: string, fail: boolean): ServiceDefinition => ({
      name: 'work',
      actions: {
        run: (p: { call: number }) => {
          seen.set(p.call, [...(seen.get(p.call) ?? []), id]);
          if (fail) throw new ParleyError('UNAVAILABLE', `${id} cannot serve`);
          return id;
        },
      },
    });
    const caller = new Traffic({
      defaults: { breaker: false, retry: { maxAttempts: 3, baseMs: 1, maxMs: 5, budget: false } },
    });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      { id: 's1', services: [svc('s1', true)] },
      { id: 's2', services: [svc('s2', true)] },
      { id: 's3', services: [svc('s3', false)] },
    ]);
    try {
      for (let call = 0; call < 12; call++) {
        assert.equal(await nodes[0]!.call('work.run', { call }), 's3');
        const tried = seen.get(call)!;
        assert.equal(new Set(tried).size, tried.length, `call ${call} tried a node twice: ${tried.join(', ')}`);
        assert.equal(tried.at(-1), 's3');
      }
    } finally {
      await stop(nodes);
    }
  });

  it('an idempotent retry with a key executes once across three servers (retries return to the first node and join)', async () => {
    const counts = new Map<string, number>();
    let executions = 0;
    const caller = new Traffic({
      actions: {
        'pay.charge': {
          strategy: 'round-robin',
          idempotent: true,
          timeout: 60,
          breaker: false,
          retry: { maxAttempts: 10, baseMs: 1, maxMs: 5, budget: false },
        },
      },
    });
    const pay: ServiceDefinition = {
      name: 'pay',
      actions: {
        charge: async (p: { amount: number }) => {
          executions++;
          await new Promise((r) => setTimeout(r, 250)); // longer than several attempt timeouts
          return { charged: p.amount, execution: executions };
        },
      },
    };
    const servers = ['s1', 's2', 's3'].map((id) => ({
      id,
      traffic: new Traffic(),
      middlewares: [arrivals(counts, id)],
      services: [pay],
    }));
    const nodes = await startMesh([{ id: 'c', traffic: caller }, ...servers]);
    const arrived = () => ['s1', 's2', 's3'].reduce((n, id) => n + (counts.get(`${id}:pay.charge`) ?? 0), 0);
    try {
      const c = nodes[0]!;
      const first = await c.call('pay.charge', { amount: 5 }, { idempotencyKey: 'order-1' });
      assert.deepEqual(first, { charged: 5, execution: 1 });
      assert.ok(arrived() >= 2, 'the first attempt timed out and was retried');
      assert.equal(executions, 1, 'retries joined the running call');
      // A repeat after completion gets the stored result (when it reaches the same server: round-robin
      // sends a new call elsewhere, so repeat until it has reached every server once).
      const before = executions;
      for (let i = 0; i < 3; i++) await c.call('pay.charge', { amount: 5 }, { idempotencyKey: 'order-1' });
      assert.equal(executions - before, 2, 'the two other servers each ran it once; the first answered from its store');
      // Concurrent repeats of a new key on one server run once.
      const one = new Traffic({ defaults: { strategy: 'hash' } });
      const solo = await startMesh([
        { id: 'c2', traffic: one },
        { id: 's9', traffic: new Traffic(), services: [pay] },
      ]);
      try {
        const n = executions;
        const both = await Promise.all([
          solo[0]!.call('pay.charge', { amount: 7 }, { idempotencyKey: 'order-2', timeout: 5000 }),
          solo[0]!.call('pay.charge', { amount: 7 }, { idempotencyKey: 'order-2', timeout: 5000 }),
        ]);
        assert.deepEqual(both[0], both[1]);
        assert.equal(executions, n + 1);
      } finally {
        await stop(solo);
      }
    } finally {
      await stop(nodes);
    }
  });

  it('hedging sends a second copy to another node after the delay; the first success wins, the other is cancelled', async () => {
    let cancelled = 0;
    let slowStarts = 0;
    const svc = (id: string, slow: boolean): ServiceDefinition => ({
      name: 'h',
      actions: {
        get: async (_p: unknown, ctx: Context) => {
          if (slow) {
            slowStarts++;
            try {
              await sleep(5000, ctx);
            } catch (err) {
              cancelled++;
              throw err;
            }
          }
          return id;
        },
      },
    });
    const caller = new Traffic({
      actions: { 'h.get': { strategy: 'round-robin', idempotent: true, hedging: { delayMs: 30 }, breaker: false } },
    });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      { id: 's1', services: [svc('s1', true)] },
      { id: 's2', services: [svc('s2', false)] },
    ]);
    try {
      for (let i = 0; i < 6; i++) assert.equal(await nodes[0]!.call('h.get', {}, { timeout: 20_000 }), 's2');
      assert.ok(slowStarts > 0, 'some calls went to the slow node first');
      await waitUntil(() => cancelled === slowStarts, 10_000, 'every slow copy to be cancelled');
    } finally {
      await stop(nodes);
    }
  });

  it('server rate limits per meta key refuse with RESOURCE_EXHAUSTED and a retry-after', async () => {
    const server = new Traffic({
      actions: { 'api.get': { server: { rateLimit: { ratePerSecond: 0.1, burst: 2, scope: { meta: 'user' } } } } },
    });
    const nodes = await startMesh([
      { id: 'c', traffic: new Traffic() },
      { id: 's1', traffic: server, services: [{ name: 'api', actions: { get: () => 'ok' } }] },
    ]);
    try {
      const c = nodes[0]!;
      const as = (user: string) => c.call('api.get', {}, { meta: { user } });
      assert.equal(await as('alice'), 'ok');
      assert.equal(await as('alice'), 'ok');
      const refused = await codeOf(as('alice'));
      assert.equal(refused.code, 'RESOURCE_EXHAUSTED');
      assert.ok((refused.retryAfterMs ?? 0) > 1000, `retry-after travels to the caller: ${refused.retryAfterMs}`);
      assert.equal(await as('bob'), 'ok', 'another key has its own limit');
      assert.equal(await as('bob'), 'ok');
      assert.equal((await codeOf(as('bob'))).code, 'RESOURCE_EXHAUSTED');
    } finally {
      await stop(nodes);
    }
  });

  it('a retry of RESOURCE_EXHAUSTED waits at least the server pushback', async () => {
    const arrivedAt: number[] = [];
    const server = new Traffic({
      actions: { 'api.get': { server: { rateLimit: { ratePerSecond: 5, burst: 1 } } } },
    });
    const caller = new Traffic({
      actions: { 'api.get': { idempotent: true, retry: { maxAttempts: 3, baseMs: 1, maxMs: 2, budget: false } } },
    });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      {
        id: 's1',
        traffic: server,
        middlewares: [
          {
            name: 'clock',
            action: (next) => (p, ctx) => {
              arrivedAt.push(performance.now());
              return next(p, ctx);
            },
          },
        ],
        services: [{ name: 'api', actions: { get: () => 'ok' } }],
      },
    ]);
    try {
      const c = nodes[0]!;
      assert.equal(await c.call('api.get'), 'ok');
      const before = arrivedAt.length;
      assert.equal(await c.call('api.get'), 'ok', 'the refused attempt was retried after the pushback');
      const attempts = arrivedAt.slice(before);
      assert.ok(attempts.length >= 2);
      // GCRA at 5/s asks for up to 200 ms; the backoff alone would be ≤ 2 ms.
      assert.ok(attempts.at(-1)! - attempts[0]! >= 100, `retried after ${attempts.at(-1)! - attempts[0]!} ms`);
    } finally {
      await stop(nodes);
    }
  });

  it('an action timeout on the service definition applies to remote callers', async () => {
    const nodes = await startMesh([
      { id: 'c' },
      {
        id: 's1',
        services: [
          {
            name: 'slow',
            actions: { get: { timeout: 50, handler: () => new Promise((r) => setTimeout(() => r('late'), 600)) } },
          },
        ],
      },
    ]);
    try {
      const err = await codeOf(nodes[0]!.call('slow.get', {}, { timeout: 20_000 }));
      assert.equal(err.code, 'DEADLINE_EXCEEDED');
      assert.match(err.message, /within its 50 ms timeout/);
    } finally {
      await stop(nodes);
    }
  });

  it('configuration precedence: node default < service < action < call', async () => {
    const counts = new Map<string, number>();
    const down = () => {
      throw new ParleyError('UNAVAILABLE', 'down');
    };
    const retry = (maxAttempts: number) => ({ maxAttempts, baseMs: 1, maxMs: 2, budget: false });
    const caller = new Traffic({
      defaults: { breaker: false, retry: retry(1) },
      services: { a: { retry: retry(3) } },
      actions: { 'a.x': { retry: { maxAttempts: 2 } } },
    });
    const server = new Traffic({
      services: { e: { server: { rateLimit: { ratePerSecond: 0.1, burst: 1 } } } },
      actions: { 'e.open': { server: { rateLimit: false } } },
    });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      {
        id: 's1',
        traffic: server,
        middlewares: [arrivals(counts, 's1')],
        services: [
          { name: 'a', actions: { x: down, y: down } },
          { name: 'e', actions: { open: () => 'ok', limited: () => 'ok' } },
          { name: 'b', actions: { z: down } },
          {
            name: 'd',
            actions: {
              // Set on the service definition: the server rate limit of this action only.
              w: { handler: () => 'ok', traffic: { server: { rateLimit: { ratePerSecond: 0.1, burst: 1 } } } },
              v: () => 'ok',
            },
          },
        ],
      },
    ]);
    try {
      const c = nodes[0]!;
      const attempts = async (action: string, options = {}) => {
        const before = counts.get(`s1:${action}`) ?? 0;
        await codeOf(c.call(action, {}, options));
        return (counts.get(`s1:${action}`) ?? 0) - before;
      };
      assert.equal(await attempts('b.z'), 1, 'node default');
      assert.equal(await attempts('a.y'), 3, 'service');
      assert.equal(await attempts('a.x'), 2, 'action (merged with the service: budget stays off)');
      assert.equal(await attempts('a.x', { traffic: { retry: { maxAttempts: 4 } } }), 4, 'call');
      assert.deepEqual(caller.policiesOf('a.x').retry, { maxAttempts: 2, baseMs: 1, maxMs: 2, budget: false });
      // Server side: the service's limit applies to e.limited; the action turns it off for e.open.
      assert.equal(await c.call('e.limited'), 'ok');
      assert.equal((await codeOf(c.call('e.limited'))).code, 'RESOURCE_EXHAUSTED');
      for (let i = 0; i < 5; i++) assert.equal(await c.call('e.open'), 'ok');
      // The definition's own `traffic` option limits d.w, not d.v.
      assert.equal(await c.call('d.w'), 'ok');
      assert.equal((await codeOf(c.call('d.w'))).code, 'RESOURCE_EXHAUSTED');
      for (let i = 0; i < 3; i++) assert.equal(await c.call('d.v'), 'ok');
    } finally {
      await stop(nodes);
    }
  });

  it("node-default server policies spare the node's own $-services", async () => {
    const server = new Traffic({ defaults: { server: { rateLimit: { ratePerSecond: 0.1, burst: 1 } } } });
    const nodes = await startMesh([
      { id: 'c' },
      { id: 's1', traffic: server, services: [{ name: 'api', actions: { get: () => 'ok' } }] },
    ]);
    try {
      const c = nodes[0]!;
      assert.equal(await c.call('api.get'), 'ok');
      assert.equal((await codeOf(c.call('api.get'))).code, 'RESOURCE_EXHAUSTED');
      for (let i = 0; i < 3; i++) await c.call('$node.ping', {}, { nodeId: 's1' });
    } finally {
      await stop(nodes);
    }
  });

  it('ejects a failing node (outlier detection) so the others take its calls', async () => {
    const served = new Map<string, number>();
    const svc = (id: string, fail: boolean): ServiceDefinition => ({
      name: 'o',
      actions: {
        get: () => {
          served.set(id, (served.get(id) ?? 0) + 1);
          if (fail) throw new ParleyError('INTERNAL', 'broken');
          return id;
        },
      },
    });
    const caller = new Traffic({
      defaults: {
        breaker: false,
        retry: false,
        strategy: 'round-robin',
        outlier: { consecutiveFailures: 3, baseEjectionMs: 60_000, maxEjectionPercent: 34 },
      },
    });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      { id: 's1', services: [svc('s1', true)] },
      { id: 's2', services: [svc('s2', false)] },
      { id: 's3', services: [svc('s3', false)] },
    ]);
    try {
      const c = nodes[0]!;
      await waitUntil(() => c.nodes().length === 4);
      for (let i = 0; i < 30 && !caller.isEjected('o', 's1'); i++) await c.call('o.get').catch(() => {});
      assert.ok(caller.isEjected('o', 's1'));
      const before = served.get('s1');
      for (let i = 0; i < 10; i++) assert.notEqual(await c.call('o.get'), 's1');
      assert.equal(served.get('s1'), before);
    } finally {
      await stop(nodes);
    }
  });
});
