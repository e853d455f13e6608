import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KvEvent } from '../kv/types.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { ParleyError } from '../wire/parley-error.js';
import { connectKv, type KvClient } from './client/kv-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

describe('single-member cluster over TCP', () => {
  let dir: string;
  let server: KvServer;
  let kv: KvClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv-'));
    server = await startServer({ id: 's1', dataDir: join(dir, 's1'), listen: '127.0.0.1:0', logger: 'silent' });
    kv = await connectKv({ servers: [server.address] });
  });

  after(async () => {
    await kv.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts, gets, deletes and ranges', async () => {
    const p = await kv.put('a/1', 'one');
    assert.ok(p.revision >= 1);
    await kv.put('a/2', 'two');
    assert.equal(text((await kv.get('a/1'))?.value), 'one');
    const r = await kv.range({ prefix: 'a/' });
    assert.deepEqual(
      r.kvs.map((k) => text(k.key)),
      ['a/1', 'a/2'],
    );
    const d = await kv.delete('a/1');
    assert.equal(d.deleted, 1);
    assert.equal(await kv.get('a/1'), undefined);
    assert.equal(text((await kv.get('a/2', { serializable: true }))?.value), 'two');
  });

  it('runs a compare-and-set txn', async () => {
    const first = await kv.put('cas', 'v1');
    const ok = await kv.txn({
      compare: [{ key: 'cas', target: 'modRevision', op: '=', value: first.revision }],
      success: [{ type: 'put', key: 'cas', value: 'v2' }],
    });
    assert.equal(ok.succeeded, true);
    const stale = await kv.txn({
      compare: [{ key: 'cas', target: 'modRevision', op: '=', value: first.revision }],
      success: [{ type: 'put', key: 'cas', value: 'v3' }],
      failure: [{ type: 'range', range: 'cas' }],
    });
    assert.equal(stale.succeeded, false);
    assert.equal(text((await kv.get('cas'))?.value), 'v2');
  });

  it('watches from a past revision, then live, in order', async () => {
    const start = (await kv.put('w/x', '1')).revision;
    await kv.put('w/y', '2');
    const w = kv.watch({ prefix: 'w/' }, { startRevision: start });
    const seen: KvEvent[] = [];
    w.on((events) => seen.push(...events));
    await waitUntil(() => seen.length >= 2, 10_000, 'replayed events');
    await kv.delete('w/x');
    await waitUntil(() => seen.length >= 3, 10_000, 'live event');
    w.cancel();
    assert.deepEqual(
      seen.map((e) => `${e.type} ${text(e.kv.key)}`),
      ['PUT w/x', 'PUT w/y', 'DELETE w/x'],
    );
    assert.deepEqual(
      seen.map((e) => e.kv.modRevision),
      [...seen.map((e) => e.kv.modRevision)].sort((a, b) => a - b),
    );
  });

  it('expires a lease that is not kept alive, and deletes its keys', async () => {
    const { id } = await kv.lease.grant(300);
    await kv.put('leased', 'x', { lease: id });
    const deadline = Date.now() + 15_000;
    while ((await kv.get('leased')) !== undefined) {
      assert.ok(Date.now() < deadline, 'the leased key should disappear once its lease expires');
      await new Promise((r) => setTimeout(r, 50));
    }
    await assert.rejects(kv.lease.timeToLive(id), (e) => ParleyError.is(e, 'NOT_FOUND'));
  });

  it('keeps a lease alive in the background', async () => {
    const { id } = await kv.lease.grant(300);
    const keeper = kv.lease.keepAlive(id);
    await new Promise((r) => setTimeout(r, 1200));
    const ttl = await kv.lease.timeToLive(id);
    assert.equal(ttl.id, id);
    keeper.stop();
    await kv.lease.revoke(id);
  });

  it('hands out a lock to one holder at a time, with increasing fencing tokens', async () => {
    const l1 = await kv.lock('job');
    let second: Awaited<ReturnType<KvClient['lock']>> | undefined;
    const waiting = kv.lock('job').then((l) => {
      second = l;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second, undefined, 'the second lock must wait');
    await l1.unlock();
    await waiting;
    assert.ok(second!.revision > l1.revision);
    await second!.unlock();
  });

  it('elects one leader and hands over on resign', async () => {
    const a = kv.election('svc');
    const b = kv.election('svc');
    await a.campaign('A');
    const bWins = b.campaign('B');
    assert.equal(text((await a.leader())?.value), 'A');
    await a.resign();
    await bWins;
    assert.equal(text((await b.leader())?.value), 'B');
    await b.resign();
  });

  it('applies a retried write once (same clientId and seq)', async () => {
    const params = { key: 'dedup', value: 'v', clientId: 'test-client', seq: 1 };
    const r1 = (await server.node.call('$kv.put', params)) as { revision: number };
    const r2 = (await server.node.call('$kv.put', params)) as { revision: number };
    assert.equal(r2.revision, r1.revision);
    assert.equal((await kv.get('dedup'))?.version, 1);
  });

  it("refuses another node's polls of a client's watch: only the creator takes the events", async () => {
    const other = await connectKv({ servers: [server.address] });
    try {
      const target = { nodeId: 's1' };
      const { watchId } = (await kv.node.call('$kv.watch', { range: { prefix: 'owned/' } }, target)) as {
        watchId: string;
      };
      for (let i = 0; i < 3; i++) await kv.put(`owned/${i}`, 'v');
      await assert.rejects(other.node.call('$kv.watchPoll', { watchId, waitMs: 0 }, target), (e: unknown) =>
        ParleyError.is(e, 'PERMISSION_DENIED'),
      );
      const [incarnation, id] = watchId.split('.');
      await assert.rejects(
        other.node.call('$kv.watchPoll', { watchId: `${incarnation}.${id}`, waitMs: 0 }, target),
        (e: unknown) => ParleyError.is(e, 'NOT_FOUND'),
      );
      const mine = (await kv.node.call('$kv.watchPoll', { watchId, waitMs: 0 }, target)) as { events: unknown[] };
      assert.equal(mine.events.length, 3, 'the owner sees every event');
    } finally {
      await other.close();
    }
  });

  it('revoking a lease that never existed fails with NOT_FOUND', async () => {
    await assert.rejects(kv.lease.revoke(99_999), (e: unknown) => ParleyError.is(e, 'NOT_FOUND'));
    const { id } = await kv.lease.grant(5000);
    await kv.lease.revoke(id);
    await assert.rejects(kv.lease.revoke(id), (e: unknown) => ParleyError.is(e, 'NOT_FOUND'), 'and a second revoke');
  });

  it('reads values back as strings', async () => {
    await kv.put('greeting', 'héllo wörld');
    assert.equal(await kv.getString('greeting'), 'héllo wörld');
    assert.equal(await kv.getString('no-such-key'), undefined);
  });
});

describe('a member that can reach no majority', () => {
  let dir: string;
  let server: KvServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kvnl-'));
    // Its two peers are never started: no leader can be elected.
    server = await startServer({
      id: 'lonely',
      dataDir: join(dir, 'lonely'),
      listen: '127.0.0.1:0',
      peers: { lonely: null, gone1: null, gone2: null },
      logger: 'silent',
      raft: { tickMs: 10 },
    });
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a put fails fast with UNAVAILABLE "no leader", not applied, long before the timeout', async () => {
    const kv = await connectKv({ servers: [server.address], timeoutMs: 60_000, noLeaderMs: 300 });
    try {
      await assert.rejects(kv.put('k', 'v'), (e: unknown) => {
        const err = e as ParleyError;
        const details = err.details as { reason?: string; outcome?: string };
        return (
          ParleyError.is(e, 'UNAVAILABLE') &&
          /^no leader: /.test(err.message) &&
          details.reason === 'no-leader' &&
          details.outcome === 'not-applied'
        );
      });
    } finally {
      await kv.stop();
    }
  });
});
