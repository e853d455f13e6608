import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KvEvent } from '../kv/types.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { ParleyError } from '../wire/parley-error.js';
import { connectKv, type KvClient } from './client/kv-client.js';
import { type KvServer, type ServerOptions, startServer } from './server/start-server.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));
const RAFT = { tickMs: 25, snapshotEvery: 40, snapshotKeep: 5 } as const;

/**
 * A 3-member cluster in one process over loopback TCP (ephemeral ports), driven through the
 * public client: replication, failover with client retries, watches across failover, restart
 * from the data directory, adding a member that catches up from a snapshot, removing it.
 * The tests share one cluster and run in order.
 */
describe('three-member cluster', () => {
  let dir: string;
  const servers = new Map<string, KvServer>();
  let kv: KvClient;

  const start = async (id: string, extra: Partial<ServerOptions> = {}) => {
    const peers: Record<string, string | null> = { s1: null, s2: null, s3: null };
    for (const [sid, s] of servers) peers[sid] = s.address;
    const s = await startServer({
      id,
      dataDir: join(dir, id),
      listen: '127.0.0.1:0',
      peers,
      logger: 'silent',
      raft: RAFT,
      ...extra,
    });
    servers.set(id, s);
    return s;
  };
  const leader = async (): Promise<KvServer> => {
    let found: KvServer | undefined;
    await waitUntil(
      () => {
        found = [...servers.values()].find((s) => s.member.isLeader);
        return found !== undefined;
      },
      20_000,
      'a leader',
    );
    return found!;
  };
  const stop = async (id: string) => {
    await servers.get(id)!.stop();
    servers.delete(id);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv3-'));
    await start('s1');
    await start('s2');
    await start('s3');
    kv = await connectKv({ servers: [servers.get('s1')!.address], timeoutMs: 20_000 });
    await leader();
  });

  after(async () => {
    await kv.close();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('replicates writes to every member', async () => {
    const { revision } = await kv.put('rep', 'yes');
    await waitUntil(
      () => [...servers.values()].every((s) => s.member.sm.store.revision >= revision),
      20_000,
      'every member applied the put',
    );
    for (const s of servers.values()) {
      const out = s.member.sm.read({ range: { key: new TextEncoder().encode('rep') } });
      assert.ok(out.ok && out.result.type === 'range');
      if (out.ok && out.result.type === 'range') assert.equal(text(out.result.kvs[0]?.value), 'yes');
    }
  });

  it('serves linearizable reads on followers: a follower sees a write acknowledged just before', async () => {
    const lead = await leader();
    const followers = [...servers.values()].filter((s) => s !== lead);
    for (let i = 0; i < 20; i++) {
      await kv.put('follower-read', `v${i}`);
      for (const f of followers) {
        const r = (await lead.node.call(
          '$kv.range',
          { range: { key: new TextEncoder().encode('follower-read') } },
          { nodeId: f.member.id },
        )) as { kvs: { value: Uint8Array }[] };
        assert.equal(text(r.kvs[0]?.value), `v${i}`, `follower ${f.member.id} read the latest value`);
      }
    }
  });

  it('keeps serving through a leader failure; a watch sees every event exactly once', async () => {
    const seen: KvEvent[] = [];
    const startRev = (await kv.put('fo/start', '0')).revision;
    const w = kv.watch({ prefix: 'fo/' }, { startRevision: startRev });
    w.on((events) => seen.push(...events));
    for (let i = 0; i < 10; i++) await kv.put(`fo/${i}`, `v${i}`);
    const old = await leader();
    await stop(old.member.id);
    for (let i = 10; i < 20; i++) await kv.put(`fo/${i}`, `v${i}`);
    const now = await leader();
    assert.notEqual(now.member.id, old.member.id);
    await waitUntil(() => seen.length >= 21, 30_000, 'all watch events');
    await new Promise((r) => setTimeout(r, 300));
    w.cancel();
    const keys = seen.map((e) => text(e.kv.key));
    assert.deepEqual(keys, ['fo/start', ...Array.from({ length: 20 }, (_, i) => `fo/${i}`)]);
    for (let i = 0; i < 20; i++) assert.equal(text((await kv.get(`fo/${i}`))?.value), `v${i}`);
    // Bring the stopped member back from its data directory.
    const back = await start(old.member.id);
    const target = (await kv.put('after-restart', 'x')).revision;
    await waitUntil(() => back.member.sm.store.revision >= target, 30_000, 'the restarted member catches up');
  });

  it('a lease granted under one leader still expires after a leader change', async () => {
    const { id } = await kv.lease.grant(1500);
    await kv.put('leased-across-failover', 'x', { lease: id });
    const old = await leader();
    await stop(old.member.id);
    // The new leader promotes the lease with its last checkpointed remaining TTL, then expires it.
    const deadline = Date.now() + 30_000;
    while ((await kv.get('leased-across-failover')) !== undefined) {
      assert.ok(Date.now() < deadline, 'the lease should expire under the new leader');
      await new Promise((r) => setTimeout(r, 100));
    }
    await start(old.member.id);
  });

  it('adds a member that catches up from a snapshot, then removes it', async () => {
    for (let i = 0; i < 120; i++) await kv.put(`bulk/${i % 30}`, `v${i}`);
    const last = await kv.put('bulk/last', 'end');
    const lead = await leader();
    assert.ok(lead.member.applied > 0);
    const added = await kv.cluster.add('s4', '127.0.0.1:1');
    assert.ok(added.voters.includes('s4'));
    const s4 = await start('s4', { join: true });
    await waitUntil(() => s4.member.sm.store.revision >= last.revision, 30_000, 's4 catches up');
    const out = s4.member.sm.read({ range: { key: new TextEncoder().encode('bulk/last') } });
    assert.ok(out.ok && out.result.type === 'range' && text(out.result.kvs[0]?.value) === 'end');
    assert.ok(s4.member.snapshotsRestored > 0, 's4 should have been sent a snapshot (the log was compacted)');
    const removed = await kv.cluster.remove('s4');
    assert.ok(!removed.voters.includes('s4'));
    // s4 learns it was removed, says so, and stops serving.
    const why = await s4.whenRemoved;
    assert.equal(why.code, 'UNAVAILABLE');
    assert.match(why.message, /member 's4' was removed from the cluster/);
    await assert.rejects(
      lead.node.call('$kv.range', { range: { key: 'bulk/last' }, serializable: true }, { nodeId: 's4' }),
      (e: unknown) =>
        ParleyError.is(e, 'UNAVAILABLE') &&
        (e as ParleyError & { details: { reason?: string } | undefined }).details?.reason === 'member-removed',
    );
    assert.equal(s4.member.isLeader, false);
    // The client stops picking it: writes and reads go on.
    await kv.put('after-remove', 'ok');
    assert.equal(text((await kv.get('after-remove', { serializable: true }))?.value), 'ok');
    await stop('s4');
  });

  it('a member removed while it was down learns it on restart and stops serving', async () => {
    await kv.cluster.add('s5', '127.0.0.1:1');
    const s5 = await start('s5', { join: true });
    const last = await kv.put('before-s5-down', 'x');
    await waitUntil(() => s5.member.sm.store.revision >= last.revision, 30_000, 's5 catches up');
    await stop('s5');
    await kv.cluster.remove('s5');
    await kv.put('while-s5-down', 'x');
    // It restarts believing it is a member; the others tell it otherwise.
    const back = await start('s5');
    const why = await back.whenRemoved;
    assert.match(why.message, /member 's5' was removed from the cluster/);
    assert.equal((why.details as { reason?: string }).reason, 'member-removed');
    assert.equal(back.member.removed, why);
    await stop('s5');
    await kv.put('after-s5', 'ok');
  });
});
