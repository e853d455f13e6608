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
import { KvClient } from './client/kv-client.js';
import { REGISTRY_PREFIX } from './contract.js';
import { type KvServer, startServer } from './server/start-server.js';

const isCode =
  (code: string, message?: RegExp) =>
  (e: unknown): boolean =>
    e instanceof ParleyError && e.code === code && (message === undefined || message.test(e.message));
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

const POLICY: Policy = {
  version: 1,
  members: ['s*'],
  deny: [{ name: 'no-secrets', principals: ['*'], kvRead: ['app/secret/'] }],
  allow: [
    { name: 'alice-app', principals: ['alice'], kvRead: ['app/', 'shared/'], kvWrite: ['app/'] },
    { name: 'bob-a', principals: ['bob'], kvRead: ['a/'], kvWrite: ['a/'] },
    { name: 'root-all', principals: ['root'], kvRead: [''], kvWrite: [''] },
  ],
};

/** `$kv` under a policy: one member on a network whose peers have TLS-style names. */
describe('KV authorization ($kv under a policy)', () => {
  const net = new NamedNetwork();
  let dir: string;
  let server: KvServer;
  let own: KvClient; // the member's own client: local calls, always allowed
  const nodes: ParleyNode[] = [];
  const audit: AuditEntry[] = [];
  const clients: Record<string, KvClient> = {};
  const raw = (who: string, action: string, params: unknown) =>
    clients[who]!.node.call(action, params, { nodeId: 's1', timeout: 3000 });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv-authz-'));
    server = await startServer({
      id: 's1',
      dataDir: join(dir, 's1'),
      listen: '127.0.0.1:0',
      logger: 'silent',
      transport: net.transport('s1'),
      policy: POLICY,
      audit: (e) => audit.push(e),
    });
    own = new KvClient(server.node, { timeoutMs: 5000 });
    await waitUntil(() => server.member.isLeader, 10_000, 'leader');
    for (const k of ['a/1', 'a0', 'app/x', 'app/secret/k', 'b/1', 'shared/s']) await own.put(k, `v-${k}`);
    for (const [id, name] of [
      ['alice', 'alice'],
      ['bob', 'bob'],
      ['carol', 'carol'],
      ['root', 'root'],
      ['s-reg', 's-reg'],
      ['anon', null],
    ] as const) {
      const node = createNode({ id, logger: 'silent', transport: net.transport(name), seeds: [server.address] });
      await node.start();
      nodes.push(node);
      clients[id] = new KvClient(node, { timeoutMs: 3000 });
      await node.waitFor('$kv.range');
    }
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ranges: allowed inside the prefix only — boundaries and open-ended ranges', async () => {
    const bob = clients.bob!;
    assert.deepEqual(
      (await bob.range({ prefix: 'a/' })).kvs.map((k) => text(k.key)),
      ['a/1'],
    );
    assert.equal(text((await bob.get('a/1'))?.value), 'v-a/1');
    await assert.rejects(bob.get('a0'), isCode('PERMISSION_DENIED', /no rule allows 'bob' to read key "a0"/)); // 'a/' ≠ 'a0'
    await assert.rejects(bob.range({ from: 'a/' }), isCode('PERMISSION_DENIED')); // fromKey: every key above
    assert.equal((await bob.range({ from: 'a/', to: 'a0' })).count, 1); // exactly the prefix
    await assert.rejects(bob.range({ from: 'a/', to: 'a1' }), isCode('PERMISSION_DENIED')); // one key past it
    await assert.rejects(bob.range({ prefix: '' }), isCode('PERMISSION_DENIED'));
    assert.equal((await bob.range({ prefix: 'a/' })).count, 1, 'the connection still serves allowed reads');
  });

  it('a deny rule overlapping the range refuses it and names the rule', async () => {
    const alice = clients.alice!;
    await assert.rejects(alice.range({ prefix: 'app/' }), isCode('PERMISSION_DENIED', /denied by rule 'no-secrets'/));
    assert.equal(text((await alice.get('app/x'))?.value), 'v-app/x');
    assert.equal(text((await alice.get('shared/s'))?.value), 'v-shared/s');
    await assert.rejects(clients.root!.get('app/secret/k'), isCode('PERMISSION_DENIED', /no-secrets/));
  });

  it('writes: puts and deletes inside the prefix only; nothing is proposed when denied', async () => {
    const bob = clients.bob!;
    await bob.put('a/2', 'x');
    await assert.rejects(bob.put('a0', 'x'), isCode('PERMISSION_DENIED', /write key "a0"/));
    await assert.rejects(bob.delete({ from: 'a/' }), isCode('PERMISSION_DENIED'));
    assert.equal(text((await own.get('a0'))?.value), 'v-a0');
    const before = server.member.sm.store.revision;
    await assert.rejects(bob.put('b/9', 'x'), isCode('PERMISSION_DENIED'));
    assert.equal(server.member.sm.store.revision, before);
  });

  it('a txn with one forbidden key (compare or either branch) is refused as a whole', async () => {
    const alice = clients.alice!;
    const txn = (failureKey: string, compareKey = 'app/x') =>
      alice.txn({
        compare: [{ key: compareKey, target: 'version', op: '>', value: 0 }],
        success: [{ type: 'put', key: 'app/y', value: 'y' }],
        failure: [{ type: 'put', key: failureKey, value: 'z' }],
      });
    await assert.rejects(txn('b/1'), isCode('PERMISSION_DENIED', /key "b\/1"/));
    await assert.rejects(txn('app/z', 'b/1'), isCode('PERMISSION_DENIED', /read key "b\/1"/));
    assert.equal(await own.get('app/y'), undefined, 'nothing applied');
    assert.equal((await txn('app/z')).succeeded, true);
    assert.equal(text((await own.get('app/y'))?.value), 'y');
  });

  it('watches are checked at start, open-ended ones included', async () => {
    const r = (await raw('bob', '$kv.watch', { range: { prefix: 'a/' } })) as { watchId: string };
    assert.equal(typeof r.watchId, 'string');
    await assert.rejects(raw('bob', '$kv.watch', { range: { from: 'a/' } }), isCode('PERMISSION_DENIED'));
    await assert.rejects(raw('bob', '$kv.watch', { range: { key: 'a0' } }), isCode('PERMISSION_DENIED'));
  });

  it('leases: grant needs a KV grant; revoke needs write and time-to-live with keys needs read on every attached key', async () => {
    const bob = clients.bob!;
    await assert.rejects(clients.carol!.lease.grant(10_000), isCode('PERMISSION_DENIED', /any KV permission/));
    const { id } = await bob.lease.grant(10_000);
    await bob.put('a/leased', 'x', { lease: id });
    await own.put('b/leased', 'x', { lease: id });
    await assert.rejects(
      raw('bob', '$kv.leaseTimeToLive', { id, keys: true }),
      isCode('PERMISSION_DENIED', /b\/leased/),
    );
    assert.equal(((await raw('bob', '$kv.leaseTimeToLive', { id })) as { id: number }).id, id);
    await assert.rejects(raw('bob', '$kv.leaseRevoke', { id }), isCode('PERMISSION_DENIED', /write key "b\/leased"/));
    assert.equal(text((await own.get('b/leased'))?.value), 'x');
  });

  it('compaction and registry writes are for members only; members get nothing else for free', async () => {
    await assert.rejects(raw('root', '$kv.compact', { revision: 1 }), isCode('PERMISSION_DENIED', /cluster members/));
    await assert.rejects(
      clients.root!.put(`${REGISTRY_PREFIX}root`, 'x'),
      isCode('PERMISSION_DENIED', /cluster members/),
    );
    await clients.root!.put('z', 'root may write everything else');
    await clients['s-reg']!.put(`${REGISTRY_PREFIX}s-reg`, '{}');
    await assert.rejects(clients['s-reg']!.put('z', 'x'), isCode('PERMISSION_DENIED'));
    assert.ok(server.node.authorization.denials().internal >= 2);
  });

  it('KV users and roles are managed by members only', async () => {
    await assert.rejects(
      raw('root', '$kv.authEnable', {}),
      isCode('PERMISSION_DENIED', /'\$kv\.authEnable'.*cluster members/),
    );
    await assert.rejects(raw('root', '$kv.userAdd', { user: 'x' }), isCode('PERMISSION_DENIED'));
    await assert.rejects(raw('bob', '$kv.roleList', {}), isCode('PERMISSION_DENIED'));
    assert.deepEqual(((await raw('s-reg', '$kv.userList', {})) as { users: string[] }).users, []);
  });

  it('an unauthenticated client gets UNAUTHENTICATED', async () => {
    await assert.rejects(clients.anon!.get('a/1'), isCode('UNAUTHENTICATED'));
  });

  it('a policy change ends the running watches it no longer allows, with PERMISSION_DENIED', async () => {
    const seen: string[] = [];
    const bobs = clients.bob!.watch({ prefix: 'a/' });
    const alices = clients.alice!.watch({ prefix: 'app/x' });
    bobs.on((events) => {
      for (const e of events) seen.push(text(e.kv.key)!);
    });
    await bobs.ready;
    await alices.ready;
    await own.put('a/w1', '1');
    await waitUntil(() => seen.includes('a/w1'));
    try {
      server.node.authorization.setPolicy({ ...POLICY, allow: POLICY.allow.filter((r) => r.name !== 'bob-a') });
      const ended = await Promise.race([
        bobs.closed,
        new Promise<string>((r) => setTimeout(() => r('still running after 5 s'), 5000).unref()),
      ]);
      assert.ok(isCode('PERMISSION_DENIED', /no rule allows 'bob' to read/)(ended), String(ended));
      await own.put('a/w2', '2');
      await own.put('app/x', 'again');
      assert.ok(!seen.includes('a/w2'));
      assert.equal(
        await Promise.race([alices.closed, Promise.resolve('running')]),
        'running',
        'an allowed watch runs on',
      );
    } finally {
      alices.cancel();
      server.node.authorization.setPolicy(POLICY);
    }
  });

  // Last: the added member never starts, so the cluster loses its quorum.
  it('$cluster is for members only, and a membership change is audited with who made it', async () => {
    await assert.rejects(
      raw('root', '$cluster.add', { id: 's9', address: '127.0.0.1:1' }),
      isCode('PERMISSION_DENIED', /'\$cluster\.add' is an internal action/),
    );
    await raw('s-reg', '$cluster.add', { id: 's9', address: '127.0.0.1:1' });
    const change = audit.find((e) => e.event === 'membership-changed');
    assert.ok(change, 'the change is in the audit log');
    assert.equal(change.principal, 's-reg');
    assert.deepEqual(change.details, { change: 'add', id: 's9', address: '127.0.0.1:1', voters: ['s1', 's9'] });
  });
});
