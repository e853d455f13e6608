import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../node/authorization/audit-log.js';
import type { Policy } from '../node/authorization/policy.js';
import { createNode, type ParleyNode } from '../node/node.js';
import { NamedNetwork } from '../node/testing/named-transport.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { ParleyError } from '../wire/parley-error.js';
import { type QueueClient, queuesFor } from './client/queue-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const isCode =
  (code: string, message?: RegExp) =>
  (e: unknown): boolean =>
    e instanceof ParleyError && e.code === code && (message === undefined || message.test(e.message));

const POLICY: Policy = {
  version: 1,
  members: ['s*'],
  deny: [{ name: 'no-audit-stream', principals: ['*'], queueConsume: ['audit'] }],
  allow: [
    { name: 'pub-orders', principals: ['pub'], queuePublish: ['orders'] },
    { name: 'worker-orders', principals: ['worker'], queueConsume: ['orders', 'audit'] },
    { name: 'ops-scratch', principals: ['ops'], queueAdmin: ['scratch'] },
  ],
};

/**
 * `$queue` under a policy: three members on a network whose peers have TLS-style names, and
 * clients named pub (may publish to orders), worker (may consume orders), ops (may administer
 * scratch) and an unauthenticated stranger. Streams are made by a member (members pass).
 */
describe('queue authorization ($queue under a policy)', () => {
  const net = new NamedNetwork();
  let dir: string;
  const servers: KvServer[] = [];
  const audit: AuditEntry[] = [];
  const nodes: ParleyNode[] = [];
  const q: Record<string, QueueClient> = {};
  let admin: QueueClient; // a member's own client: local calls, always allowed
  /** A raw `$queue` call from `who` to every member in turn (the check runs before leadership matters). */
  const raw = (who: string, action: string, params: unknown) =>
    nodes.find((n) => n.id === who)!.call(`$queue.${action}`, params, { nodeId: servers[0]!.node.id, timeout: 5000 });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-queue-authz-'));
    const addresses: Record<string, string | null> = { s1: null, s2: null, s3: null };
    for (const id of ['s1', 's2', 's3']) {
      const s = await startServer({
        id,
        dataDir: join(dir, id),
        listen: '127.0.0.1:0',
        peers: { ...addresses },
        logger: 'silent',
        raft: { tickMs: 25 },
        transport: net.transport(id),
        policy: POLICY,
        audit: (e) => audit.push(e),
      });
      addresses[id] = s.address;
      servers.push(s);
    }
    await waitUntil(() => servers.some((s) => s.member.isLeader), 10_000, 'a KV leader');
    admin = queuesFor(servers[0]!.node, { timeoutMs: 15_000 });
    await admin.streams.create({ name: 'orders', subjects: ['orders.>'], partitions: 2 });
    await admin.streams.create({ name: 'payments', subjects: ['payments.>'] });
    await admin.streams.create({ name: 'audit', subjects: ['audit.>'] });
    await admin.publish('orders.seed', 'seed');
    await admin.publish('payments.seed', 'seed');
    for (const [id, name] of [
      ['pub', 'pub'],
      ['worker', 'worker'],
      ['ops', 'ops'],
      ['stranger', null],
    ] as const) {
      const node = createNode({
        id,
        logger: 'silent',
        transport: net.transport(name),
        seeds: servers.map((s) => s.address),
      });
      await node.start();
      nodes.push(node);
      await waitUntil(() => node.nodes().filter((n) => n.connected).length >= 3, 10_000, `${id} connected`);
      q[id] = queuesFor(node, { timeoutMs: 10_000 });
    }
  });
  after(async () => {
    for (const c of Object.values(q)) await c.close();
    await admin?.close();
    for (const n of nodes) await n.stop();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a publisher allowed orders publishes to orders.* and is refused payments.*, audited', async () => {
    const pub = q.pub!;
    const ack = await pub.publish('orders.eu.1', 'hello', { key: 'k' });
    assert.equal(ack.stream, 'orders');
    // Its list holds only the streams it may use, so the client finds no stream for payments.*.
    assert.deepEqual(
      (await pub.streams.list()).map((v) => v.config.name),
      ['orders'],
    );
    await assert.rejects(pub.publish('payments.x', 'nope'), isCode('NOT_FOUND'));
    // Named outright, the server refuses: the stream is the partition group's, not the client's word.
    await assert.rejects(
      raw('pub', 'publish', { group: 'q.payments.0', messages: [{ subject: 'payments.x', payload: 'x' }] }),
      isCode('PERMISSION_DENIED', /no rule allows 'pub' to publish to stream 'payments'/),
    );
    await assert.rejects(pub.publish('payments.x', 'nope', { stream: 'payments' }), isCode('PERMISSION_DENIED'));
    const denial = audit.find((e) => e.event === 'denied' && e.principal === 'pub' && e.permission === 'queuePublish');
    assert.ok(denial, 'the denial is in the audit log');
    assert.equal(denial.target, "stream 'payments'");
    assert.equal(denial.code, 'PERMISSION_DENIED');
    const info = await admin.streams.info('payments');
    assert.equal(
      info.partitionInfo.reduce((n, p) => n + p.messages, 0),
      1,
      'nothing reached payments but the seed',
    );
  });

  it('a subject outside the stream is refused even on a partition the publisher may use', async () => {
    await assert.rejects(q.pub!.publish('payments.x', 'smuggled', { stream: 'orders' }), (e: unknown) =>
      ParleyError.is(e, 'INVALID_ARGUMENT'),
    );
  });

  it('a principal without queueConsume cannot fetch, ack or create consumers; one with it can', async () => {
    await admin.consumers.create('orders', { name: 'billing', deliverFrom: { from: 'first' } });
    const pub = q.pub!;
    await assert.rejects(
      pub.fetch('orders', 'billing'),
      isCode('PERMISSION_DENIED', /no rule allows 'pub' to consume stream 'orders'/),
    );
    await assert.rejects(
      raw('pub', 'ack', { group: 'q.orders.0', consumer: 'billing', acks: [{ seq: 1, type: 'ack' }] }),
      isCode('PERMISSION_DENIED', /consume stream 'orders'/),
    );
    await assert.rejects(pub.consumers.create('orders', { name: 'mine' }), isCode('PERMISSION_DENIED'));
    const worker = q.worker!;
    const got = await worker.fetch('orders', 'billing', { max: 10 });
    assert.ok(got.length >= 1, 'the worker receives messages');
    for (const m of got) await m.ack();
    assert.ok(
      audit.some((e) => e.event === 'denied' && e.principal === 'pub' && e.permission === 'queueConsume'),
      'consume denials are audited',
    );
  });

  it('a deny rule wins over an allow rule and is named', async () => {
    await assert.rejects(
      raw('worker', 'fetch', { group: 'q.audit.0', consumer: 'c' }),
      isCode('PERMISSION_DENIED', /denied by rule 'no-audit-stream'/),
    );
  });

  it('an unauthenticated stranger is refused with UNAUTHENTICATED', async () => {
    const stranger = q.stranger!;
    await assert.rejects(stranger.publish('orders.x', 'hi', { stream: 'orders' }), isCode('UNAUTHENTICATED'));
    await assert.rejects(
      raw('stranger', 'publish', { group: 'q.orders.0', messages: [{ subject: 'orders.x', payload: 'x' }] }),
      isCode('UNAUTHENTICATED', /authenticate/),
    );
    assert.deepEqual(await stranger.streams.list(), []);
    assert.ok(audit.some((e) => e.event === 'denied' && e.code === 'UNAUTHENTICATED' && e.via !== 'tls'));
  });

  it('stream administration needs queueAdmin on that stream (members need none)', async () => {
    await assert.rejects(
      q.pub!.streams.create({ name: 'other', subjects: ['other.>'] }),
      isCode('PERMISSION_DENIED', /administer stream 'other'/),
    );
    await assert.rejects(q.pub!.streams.delete('orders'), isCode('PERMISSION_DENIED', /administer/));
    await assert.rejects(q.worker!.streams.deadLetters('orders'), isCode('PERMISSION_DENIED', /administer/));
    const ops = q.ops!;
    const view = await ops.streams.create({ name: 'scratch', subjects: ['scratch.>'] });
    assert.equal(view.config.name, 'scratch');
    await assert.rejects(
      ops.streams.create({ name: 'other', subjects: ['other.>'] }),
      isCode('PERMISSION_DENIED', /administer stream 'other'/),
    );
    await ops.streams.delete('scratch');
    assert.deepEqual((await admin.streams.list()).map((v) => v.config.name).sort(), ['audit', 'orders', 'payments']);
  });
});
