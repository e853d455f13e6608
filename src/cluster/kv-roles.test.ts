/**
 * KV roles end to end: a 3-member cluster over mutual TLS (certificates made with openssl in a
 * temporary directory), clients whose certificate names them (CN = the principal, hence the KV
 * user): root administers, alice may write app/, bob may only watch app/ until root revokes it
 * mid-watch. Skipped where openssl is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KvEvent } from '../kv/types.js';
import type { AuditEntry } from '../node/authorization/audit-log.js';
import { createNode } from '../node/node.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import { hasOpenssl, makeTestPki } from '../transport/testing/test-pki.js';
import type { TlsOptions } from '../transport/tls-options.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../transport/transport.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';
import type { ParleyError } from '../wire/parley-error.js';
import { KvClient } from './client/kv-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const NAMES = ['s1', 's2', 's3', 'root', 'alice', 'bob'] as const;

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

describe('KV roles over mutual TLS (3 members)', { skip: !hasOpenssl() && 'openssl is not installed' }, () => {
  let dir: string;
  let tls: (name: string) => TlsOptions;
  const servers: KvServer[] = [];
  const audit: AuditEntry[] = [];
  const clients = new Map<string, KvClient>();

  const client = async (name: string): Promise<KvClient> => {
    const node = createNode({
      id: name,
      port: null,
      seeds: servers.map((s) => s.address),
      tls: tls(name),
      logger: 'silent',
      gossipInterval: 500,
    });
    await node.start();
    const kv = new KvClient(node, { timeoutMs: 20_000, ownsNode: true });
    await node.waitFor('$kv.range', 10_000);
    clients.set(name, kv);
    return kv;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv-roles-'));
    const { ca, pair } = makeTestPki(dir, NAMES);
    tls = (name) => ({ ...pair(name), ca, mutual: true });
    const peers: Record<string, string | null> = { s1: null, s2: null, s3: null };
    for (const id of ['s1', 's2', 's3']) {
      const s = await startServer({
        id,
        dataDir: join(dir, id),
        listen: '127.0.0.1:0',
        peers: { ...peers },
        logger: 'silent',
        raft: { tickMs: 25 },
        audit: (e) => audit.push(e),
        transport: new TcpTransport({
          host: '127.0.0.1',
          port: 0,
          tls: tls(id),
          maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
          maxOutboundBytes: DEFAULT_MAX_OUTBOUND_BYTES,
        }),
      });
      servers.push(s);
      peers[id] = s.address;
    }
    await waitUntil(() => servers.some((s) => s.member.isLeader), 20_000, 'a leader');
    for (const name of ['root', 'alice', 'bob']) await client(name);
  });

  after(async () => {
    await Promise.all([...clients.values()].map((c) => c.close()));
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('root sets up users and roles, then enables auth', async () => {
    const root = clients.get('root')!;
    await root.auth.user.add('root');
    await root.auth.user.grantRole('root', 'root');
    await root.auth.role.add('app');
    await root.auth.role.grant('app', { type: 'readwrite', prefix: 'app/' });
    await root.auth.role.add('watcher');
    await root.auth.role.grant('watcher', { type: 'read', prefix: 'app/' });
    await root.auth.user.add('alice');
    await root.auth.user.grantRole('alice', 'app');
    await root.auth.user.add('bob');
    await root.auth.user.grantRole('bob', 'watcher');
    const { authRevision } = await root.auth.enable();
    assert.deepEqual(await root.auth.status(), { enabled: true, authRevision });
    assert.deepEqual(await root.auth.user.list(), ['alice', 'bob', 'root']);
    const app = await root.auth.role.get('app');
    assert.deepEqual(
      app.permissions.map((p) => [p.type, text(p.key), text(p.rangeEnd)]),
      [['readwrite', 'app/', 'app0']],
    );
  });

  it('the allowed user reads and writes its prefix; the denied one gets PERMISSION_DENIED naming user and key', async () => {
    const alice = clients.get('alice')!;
    const bob = clients.get('bob')!;
    await alice.put('app/1', 'one');
    assert.equal(await alice.getString('app/1'), 'one');
    await assert.rejects(alice.put('secret/1', 'x'), (err: ParleyError) => {
      assert.equal(err.code, 'PERMISSION_DENIED');
      assert.match(err.message, /user 'alice' may not write key "secret\/1"/);
      return true;
    });
    await assert.rejects(alice.range({ from: 'app/' }), { code: 'PERMISSION_DENIED' });
    await assert.rejects(bob.put('app/1', 'mine'), (err: ParleyError) => /user 'bob'/.test(err.message));
    assert.equal(await bob.getString('app/1', { serializable: true }), 'one');
    await assert.rejects(alice.auth.user.add('eve'), (err: ParleyError) => /root role/.test(err.message));
    await assert.rejects(alice.auth.user.list(), { code: 'PERMISSION_DENIED' });
    assert.deepEqual(await alice.auth.user.get('alice'), { name: 'alice', roles: ['app'] });
    // Refusals and role changes are in the audit log.
    assert.ok(
      audit.some((e) => e.event === 'denied' && e.permission === 'kvRole' && e.principal === 'alice'),
      'the refusal is audited',
    );
    assert.ok(
      audit.some((e) => e.event === 'role-changed' && e.principal === 'root' && e.details?.change === 'auth-enable'),
    );
    // Every member decides the same: the state is replicated.
    await waitUntil(() => servers.every((s) => s.member.sm.auth.enabled), 10_000, 'auth enabled everywhere');
  });

  it('revoked permission mid-watch: the watch ends with PERMISSION_DENIED', async () => {
    const alice = clients.get('alice')!;
    const bob = clients.get('bob')!;
    const root = clients.get('root')!;
    const seen: KvEvent[] = [];
    const w = bob.watch({ prefix: 'app/' });
    w.on((events) => seen.push(...events));
    await w.ready;
    await alice.put('app/2', 'two');
    await waitUntil(() => seen.some((e) => text(e.kv.key) === 'app/2'), 10_000, 'bob sees app/2');
    await root.auth.role.revoke('watcher', { prefix: 'app/' });
    const reason = await w.closed;
    assert.equal(reason?.code, 'PERMISSION_DENIED');
    await alice.put('app/3', 'three');
    assert.ok(!seen.some((e) => text(e.kv.key) === 'app/3'));
    // Watching again is refused at the start; so is a watch from a key bob never could read to the end.
    const again = bob.watch({ prefix: 'app/' });
    assert.equal((await again.closed)?.code, 'PERMISSION_DENIED');
  });

  it('a fromKey watch with read on one key only is refused (GHSA-xg4h-6gfc-h4m8)', async () => {
    const root = clients.get('root')!;
    const bob = clients.get('bob')!;
    await root.auth.role.grant('watcher', { type: 'read', key: 'app/1' });
    assert.equal(await bob.getString('app/1'), 'one');
    const w = bob.watch({ from: 'app/1' });
    assert.equal((await w.closed)?.code, 'PERMISSION_DENIED');
  });

  it('lease keys: TimeToLive lists them only to who may read them all; revoke needs write on each', async () => {
    const root = clients.get('root')!;
    const alice = clients.get('alice')!;
    const lease = await alice.lease.grant(60_000);
    await alice.put('app/leased', 'x', { lease: lease.id });
    assert.deepEqual((await alice.lease.timeToLive(lease.id, { keys: true })).keys?.map(text), ['app/leased']);
    await root.put('secret/leased', 'y', { lease: lease.id });
    await assert.rejects(alice.lease.timeToLive(lease.id, { keys: true }), (err: ParleyError) => {
      return err.code === 'PERMISSION_DENIED' && !err.message.includes('secret');
    });
    await assert.rejects(alice.lease.revoke(lease.id), { code: 'PERMISSION_DENIED' });
    assert.equal(await root.getString('secret/leased'), 'y');
    await root.lease.revoke(lease.id);
    assert.equal(await root.get('secret/leased'), undefined);
  });

  it('root disables auth; everyone may do everything again', async () => {
    const root = clients.get('root')!;
    const bob = clients.get('bob')!;
    await root.auth.disable();
    await bob.put('secret/2', 'open');
    assert.equal(await bob.getString('secret/2'), 'open');
  });
});
