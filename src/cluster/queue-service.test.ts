import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNode, type ParleyNode } from '../node/node.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { ParleyError } from '../wire/parley-error.js';
import { type QueueClient, type QueueMessage, queuesFor } from './client/queue-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const RAFT = { tickMs: 25 } as const;

/** Polls an async condition until it holds (or fails naming `what`). */
async function eventually(fn: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Durable streams end to end: three `parley server` members over loopback TCP, a client node
 * through the public QueueClient. Streams are created as KV records, their partitions become
 * Raft groups on the members, and publish / fetch / ack / redelivery / dedup / failover run
 * through `$queue`. The tests share one cluster and run in order.
 */
describe('durable streams on three members', () => {
  let dir: string;
  const servers = new Map<string, KvServer>();
  let client: ParleyNode;
  let q: QueueClient;

  const start = async (id: string) => {
    const peers: Record<string, string | null> = { s1: null, s2: null, s3: null };
    for (const [sid, s] of servers) peers[sid] = s.address;
    const s = await startServer({
      id,
      dataDir: join(dir, id),
      listen: '127.0.0.1:0',
      peers,
      logger: 'silent',
      raft: RAFT,
    });
    servers.set(id, s);
    return s;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-queue-'));
    for (const id of ['s1', 's2', 's3']) await start(id);
    client = createNode({
      id: 'app',
      port: null,
      seeds: [...servers.values()].map((s) => s.address),
      logger: 'silent',
    });
    await client.start();
    await waitUntil(
      () => client.nodes().filter((n) => n.connected && n.id.startsWith('s')).length === 3,
      10_000,
      'client connected',
    );
    q = queuesFor(client, { timeoutMs: 15_000 });
  });

  after(async () => {
    await q?.close();
    await client?.stop();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a stream of two partitions becomes two Raft groups on the members, leaders spread', async () => {
    const view = await q.streams.create({ name: 'orders', subjects: ['orders.>'], partitions: 2 });
    assert.deepEqual(
      view.partitions.map((p) => p.groupId),
      ['q.orders.0', 'q.orders.1'],
    );
    assert.notEqual(view.partitions[0]!.preferredLeader, view.partitions[1]!.preferredLeader);
    await waitUntil(
      () => [...servers.values()].every((s) => s.groups!.groupIds().length === 2),
      10_000,
      'every member hosts both groups',
    );
    // The same create again is idempotent; another config under the name is refused.
    await q.streams.create({ name: 'orders', subjects: ['orders.>'], partitions: 2 });
    await assert.rejects(q.streams.create({ name: 'orders', subjects: ['orders.>'], partitions: 3 }), (e: unknown) =>
      ParleyError.is(e, 'ALREADY_EXISTS'),
    );
    await assert.rejects(
      q.streams.create({ name: 'other', subjects: ['orders.eu.*'] }),
      (e: unknown) => ParleyError.is(e, 'FAILED_PRECONDITION') && /overlaps/.test((e as Error).message),
    );
    await assert.rejects(q.streams.create({ name: 'bad name!', subjects: ['x'] }), (e: unknown) =>
      ParleyError.is(e, 'INVALID_ARGUMENT'),
    );
  });

  it('publishes are acknowledged with sequences per partition; a key keeps its partition', async () => {
    const acks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => q.publish(`orders.eu.${i}`, `order ${i}`, { key: `customer-${i % 4}` })),
    );
    for (const [i, a] of acks.entries()) {
      assert.equal(a.stream, 'orders');
      assert.equal(a.partition, acks[i % 4]!.partition, 'one key, one partition');
      assert.equal(a.duplicate, false);
    }
    for (const p of [0, 1]) {
      const seqs = acks
        .filter((a) => a.partition === p)
        .map((a) => a.seq)
        .sort((a, b) => a - b);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
        `partition ${p}: sequences 1..n without gaps`,
      );
    }
    await assert.rejects(q.publish('payments.x', 'no stream'), (e: unknown) => ParleyError.is(e, 'NOT_FOUND'));
  });

  it('a msgId published twice is stored once', async () => {
    const first = await q.publish('orders.us.1', 'once', { msgId: 'order-77', key: 'k' });
    const again = await q.publish('orders.us.1', 'once', { msgId: 'order-77', key: 'k' });
    assert.equal(again.seq, first.seq);
    assert.equal(again.duplicate, true);
  });

  it('fetch delivers each message once; an unacked one comes back after the ack wait, and a stale ack is refused', async () => {
    await q.consumers.create('orders', { name: 'billing', deliverFrom: { from: 'first' }, ackWaitMs: 300 });
    const got: QueueMessage[] = [];
    await eventually(
      async () => {
        got.push(...(await q.fetch('orders', 'billing', { max: 50 })));
        return got.length >= 21;
      },
      10_000,
      'every message fetched',
    );
    assert.equal(got.length, 21);
    assert.equal(new Set(got.map((m) => `${m.partition}/${m.seq}`)).size, 21, 'no message twice');
    const kept = got.find((m) => m.text() === 'order 3')!;
    for (const m of got) if (m !== kept) await m.ack();
    const again = await q.fetch('orders', 'billing', { max: 50, waitMs: 5000 });
    assert.equal(again.length, 1);
    assert.equal(again[0]!.text(), 'order 3');
    assert.equal(again[0]!.deliveries, 2);
    await assert.rejects(kept.ack(), (e: unknown) => ParleyError.is(e, 'FAILED_PRECONDITION'));
    await again[0]!.ack();
    const [info0, info1] = await q.consumers.info('orders', 'billing');
    assert.equal(info0!.pending + info1!.pending, 0);
  });

  it('a waiting fetch returns as soon as a message is published', async () => {
    const waiting = q.fetch('orders', 'billing', { waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await q.publish('orders.eu.late', 'late', { key: 'customer-0' });
    const got = await waiting;
    assert.deepEqual(
      got.map((m) => m.text()),
      ['late'],
    );
    await got[0]!.ack();
  });

  it('consume runs a handler per message: a throw naks it and it comes back', async () => {
    await q.consumers.create('orders', { name: 'mailer', deliverFrom: { from: 'new' }, ackWaitMs: 2000 });
    const seen: string[] = [];
    let failed = false;
    const run = q.consume('orders', 'mailer', (m) => {
      seen.push(`${m.text()}#${m.deliveries}`);
      if (!failed) {
        failed = true;
        throw new Error('smtp down');
      }
    });
    try {
      await q.publish('orders.eu.mail', 'welcome', { key: 'customer-1' });
      await waitUntil(() => seen.length >= 2, 10_000, 'delivered twice');
      assert.deepEqual(seen, ['welcome#1', 'welcome#2']);
    } finally {
      await run.stop();
    }
  });

  it('the partitions keep working when a member stops', async () => {
    const view = await q.streams.info('orders');
    const victim = view.partitions[0]!.leader ?? view.partitions[0]!.preferredLeader;
    await servers.get(victim)!.stop();
    servers.delete(victim);
    const acks = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        q.publish(`orders.eu.f${i}`, `after ${i}`, { msgId: `f-${i}`, key: `c${i}` }),
      ),
    );
    assert.equal(acks.length, 6);
    const got: QueueMessage[] = [];
    await eventually(
      async () => {
        got.push(...(await q.fetch('orders', 'billing', { max: 50 })));
        return got.filter((m) => m.text().startsWith('after')).length >= 6;
      },
      15_000,
      'the new messages fetched after failover',
    );
    // billing also gets what was published for the mailer test ('welcome'): each consumer sees the whole stream.
    assert.deepEqual(got.map((m) => m.text()).sort(), [...acks.map((_, i) => `after ${i}`), 'welcome'].sort());
  });
});
