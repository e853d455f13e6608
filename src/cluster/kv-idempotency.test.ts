import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Context } from '../node/context.js';
import type { Middleware } from '../node/middleware.js';
import type { ParleyNode } from '../node/node.js';
import type { ServiceDefinition } from '../node/service.js';
import { startMesh } from '../traffic/testing/test-mesh.js';
import { Traffic } from '../traffic/traffic.js';
import { ParleyError } from '../wire/parley-error.js';
import { connectKv, type KvClient } from './client/kv-client.js';
import { KvIdempotencyStore } from './client/kv-idempotency-store.js';
import { type KvServer, startServer } from './server/start-server.js';

/**
 * Idempotency keys survive a failover when the serving nodes keep outcomes in the replicated KV:
 * the first node runs the call, keeps its outcome, and dies before its answer reaches the caller;
 * the caller's retry reaches another node, which answers with the first outcome.
 */
describe('idempotency keys across a failover (KvIdempotencyStore)', () => {
  let dir: string;
  let server: KvServer;
  const clients: KvClient[] = [];
  let nodes: ParleyNode[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-idem-'));
    server = await startServer({ id: 'k1', dataDir: join(dir, 'k1'), listen: '127.0.0.1:0', logger: 'silent' });
    for (let i = 0; i < 2; i++) clients.push(await connectKv({ servers: [server.address] }));
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const kv of clients) await kv.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two serving nodes of `pay.charge` (runs counted together) and a caller that retries on UNAVAILABLE. */
  async function mesh(store: (i: number) => KvIdempotencyStore | undefined) {
    const ranOn: string[] = [];
    const pay: ServiceDefinition = {
      name: 'pay',
      actions: {
        charge: async (_p: unknown, ctx: Context) => {
          ranOn.push(ctx.nodeId);
          return `receipt-${ranOn.length}`;
        },
      },
    };
    // On s1, outside the traffic layer: the action runs (and its outcome is kept), then the node
    // dies before its answer leaves.
    let dying: ParleyNode | undefined;
    const dieAfterRunning: Middleware = {
      name: 'die-after-running',
      action: (next) => async (params, ctx) => {
        await next(params, ctx);
        void dying?.stop();
        throw new ParleyError('UNAVAILABLE', 's1 died before answering');
      },
    };
    const serving = (i: number) => {
      const s = store(i);
      return new Traffic(s ? { idempotencyStore: s } : {});
    };
    const started = await startMesh([
      { id: 's1', services: [pay], traffic: serving(0), middlewares: [dieAfterRunning], drainTimeout: 0 },
      { id: 's2', services: [pay], traffic: serving(1), drainTimeout: 0 },
      {
        id: 'caller',
        traffic: new Traffic({ defaults: { retry: { maxAttempts: 3, baseMs: 50, budget: false }, breaker: false } }),
      },
    ]);
    nodes.push(...started);
    dying = started[0];
    return { caller: started[2]!, ranOn };
  }

  it('a retry reaching another node after the first died returns the first result', async () => {
    const m = await mesh((i) => new KvIdempotencyStore(clients[i]!));
    const receipt = await m.caller.call('pay.charge', { order: 1 }, { idempotencyKey: 'order-1' });
    assert.deepEqual(m.ranOn, ['s1'], 'the charge ran once, on s1 (which then died)');
    assert.equal(receipt, 'receipt-1', 'the outcome of the run on s1, answered by s2 from the KV');
    await Promise.all(nodes.map((n) => n.stop()));
    nodes = [];
  });

  it('without the shared store the retry runs the action again (what the store prevents)', async () => {
    const m = await mesh(() => undefined);
    const receipt = await m.caller.call('pay.charge', { order: 2 }, { idempotencyKey: 'order-2' });
    assert.deepEqual(m.ranOn, ['s1', 's2']);
    assert.equal(receipt, 'receipt-2');
  });
});
