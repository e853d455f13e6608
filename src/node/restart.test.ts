/**
 * A node that restarts with the same key while its old connection is half-dead (its process gone
 * without a FIN: a crash, a frozen VM, a dead link) is not refused as a duplicate until the idle
 * timeout: its new connection proves the same identity, the old one is probed and does not answer,
 * and the new one replaces it at once. Two live processes sharing a key are still told apart.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { MemoryNetwork, MemoryTransport } from '../transport/memory-transport.js';
import { generateNodeKeys } from '../transport/security/node-keys.js';
import { createNode, type ParleyNode } from './node.js';

const LIMITS = { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 };
const keys = { alice: generateNodeKeys(), bob: generateNodeKeys() };
const trust = { alice: keys.alice.publicKey, bob: keys.bob.publicKey };
/** Liveness so slow that, without the probe, a restart would be refused as a duplicate for a minute. */
const SLOW_LIVENESS = { keepaliveInterval: 30_000, idleTimeout: 120_000, failureTimeout: 120_000 };

describe('restart with the same proven identity', () => {
  const started: ParleyNode[] = [];
  /** Each process's own mark, answered by its service: which process served a call. */
  const marks = new Map<ParleyNode, string>();
  after(async () => {
    await Promise.all(started.map((n) => n.stop()));
  });

  async function node(net: MemoryNetwork, name: 'alice' | 'bob', seeds: string[] = []) {
    const n = createNode({
      id: name,
      logger: 'silent',
      transport: new MemoryTransport(net, LIMITS),
      gossipInterval: 50,
      drainTimeout: 0,
      auth: { key: keys[name].secretKey, trust },
      seeds,
      ...SLOW_LIVENESS,
    });
    started.push(n);
    await n.start();
    const mark = randomUUID();
    marks.set(n, mark);
    n.addService({ name: `${name}-svc`, actions: { whoami: () => mark } });
    return n;
  }

  it('replaces a half-dead connection at once: calls both ways succeed without the idle timeout', async () => {
    const net = new MemoryNetwork();
    const alice = await node(net, 'alice');
    const bob1 = await node(net, 'bob', [alice.address!]);
    await alice.waitFor('bob-svc.whoami', 5000);
    assert.equal(await alice.call('bob-svc.whoami'), marks.get(bob1));
    // Bob's process "dies" without closing its connection: nothing crosses the link any more.
    net.blackhole(alice.address!, bob1.address!);
    const bob2 = await node(net, 'bob', [alice.address!]);
    // The timeouts are far beyond what the probe needs, and far below what declaring the old connection dead would take.
    await bob2.waitFor('alice-svc.whoami', 10_000);
    assert.equal(await bob2.call('alice-svc.whoami', {}, { timeout: 10_000 }), marks.get(alice));
    assert.equal(await alice.call('bob-svc.whoami', {}, { timeout: 10_000 }), marks.get(bob2));
    assert.equal(alice.lastRefusal('bob'), undefined);
  });

  it('a client holding a running node’s key joins as <name>@<suffix>, with that node’s principal', async () => {
    const net = new MemoryNetwork();
    const alice = await node(net, 'alice');
    alice.addService({ name: 'who', actions: { ami: (_p: unknown, ctx) => [ctx.principal?.name, ctx.callerId] } });
    const bob = await node(net, 'bob', [alice.address!]);
    await alice.waitFor('bob-svc.whoami', 5000);
    const client = createNode({
      id: 'bob@cli-1',
      logger: 'silent',
      transport: new MemoryTransport(net, LIMITS, false),
      auth: { key: keys.bob.secretKey, trust },
      seeds: [alice.address!],
    });
    started.push(client);
    await client.start();
    await client.waitFor('who.ami', 5000);
    assert.deepEqual(await client.call('who.ami'), ['bob', 'bob@cli-1']);
    assert.equal(await alice.call('bob-svc.whoami', {}, { timeout: 5000 }), marks.get(bob), 'bob keeps its place');
  });

  it('a second live process with the same key is refused as a duplicate; the first keeps its place', async () => {
    const net = new MemoryNetwork();
    const alice = await node(net, 'alice');
    const bob1 = await node(net, 'bob', [alice.address!]);
    await alice.waitFor('bob-svc.whoami', 5000);
    const twin = await node(net, 'bob', [alice.address!]);
    await waitUntil(() => twin.lastRefusal(alice.address!) !== undefined, 10_000, 'the refusal');
    const refusal = twin.lastRefusal(alice.address!)!;
    assert.equal(refusal.code, 'ALREADY_EXISTS');
    assert.equal(refusal.reason, 'duplicate-id');
    assert.equal(await alice.call('bob-svc.whoami', {}, { timeout: 5000 }), marks.get(bob1));
    assert.equal(twin.nodes().filter((n) => n.connected).length, 1, 'the twin meets nobody');
  });
});
