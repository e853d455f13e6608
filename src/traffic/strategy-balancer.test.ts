import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from '../node/context.js';
import { createNode, type ParleyNode } from '../node/node.js';
import { StrategyBalancer } from './strategy-balancer.js';

async function cluster(balancer: StrategyBalancer, slowNode?: string): Promise<ParleyNode[]> {
  const servers: ParleyNode[] = [];
  for (const id of ['s1', 's2', 's3']) {
    const node = createNode({ id, logger: 'silent', seeds: servers[0] ? [servers[0].address!] : [] });
    node.addService({
      name: 'kv',
      actions: {
        owner: () => id,
        work: (_p: unknown, ctx: Context) =>
          id === slowNode ? new Promise((r) => ctx.signal.addEventListener('abort', () => r(id))) : id,
      },
    });
    await node.start();
    servers.push(node);
  }
  const caller = createNode({ id: 'caller', logger: 'silent', seeds: [servers[0]!.address!], balancer });
  await caller.start();
  const end = Date.now() + 5000;
  while (caller.nodes().filter((n) => n.connected).length < 4) {
    if (Date.now() > end) throw new Error('mesh did not form');
    await new Promise((r) => setTimeout(r, 5));
  }
  return [caller, ...servers];
}

describe('StrategyBalancer in a node', () => {
  it('hash: the same key always reaches the same node; keys spread over nodes', async () => {
    const nodes = await cluster(new StrategyBalancer({ actions: { 'kv.owner': 'hash' } }));
    const caller = nodes[0]!;
    try {
      const owners = new Map<string, string>();
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 30; k++) {
          const owner = (await caller.call('kv.owner', {}, { hashKey: `user-${k}` })) as string;
          if (round === 0) owners.set(`user-${k}`, owner);
          else assert.equal(owner, owners.get(`user-${k}`), `user-${k} moved`);
        }
      }
      assert.equal(new Set(owners.values()).size, 3, 'keys spread over all three nodes');
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });

  it('least-outstanding (per call): new calls avoid the node that is stuck with in-flight calls', async () => {
    const nodes = await cluster(new StrategyBalancer(), 's1');
    const caller = nodes[0]!;
    const s1 = nodes[1]!;
    try {
      const controller = new AbortController();
      const stuck: Promise<unknown>[] = [];
      // Send least-outstanding calls until one is stuck on s1, which never answers until cancelled.
      for (let i = 0; i < 100 && s1.stats().inFlight < 1; i++) {
        const before = s1.stats().inFlight;
        const call = caller
          .call('kv.work', {}, { strategy: 'least-outstanding', signal: controller.signal })
          .catch(() => 'cancelled');
        stuck.push(call);
        await Promise.race([
          call,
          (async () => {
            const end = Date.now() + 2000;
            while (s1.stats().inFlight === before && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
          })(),
        ]);
      }
      assert.equal(s1.stats().inFlight, 1, 'a call is stuck on s1');
      const answers: unknown[] = [];
      for (let i = 0; i < 30; i++)
        answers.push(await caller.call('kv.work', {}, { strategy: 'least-outstanding', timeout: 5000 }));
      assert.ok(!answers.includes('s1'), `least-outstanding never picked the busy node: ${answers.join(',')}`);
      assert.ok(answers.includes('s2') && answers.includes('s3'), 'it used both idle nodes');
      controller.abort();
      await Promise.all(stuck);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });

  it('rejects an unknown strategy name', () => {
    assert.throws(
      () => new StrategyBalancer({ strategy: 'fastest' as 'random' }),
      /unknown balancing strategy 'fastest'/,
    );
  });
});
