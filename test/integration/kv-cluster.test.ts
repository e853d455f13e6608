/**
 * The replicated KV as separate OS processes started with the real CLI (`parley server`,
 * `parley node --servers`): a leader killed with SIGKILL while a client writes and watches,
 * the killed member restarted from its data directory, and the registry dropping a node
 * killed with SIGKILL once its lease expires.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectKv, type KvClient } from '../../src/cluster/client/kv-client.js';
import { REGISTRY_PREFIX } from '../../src/cluster/registry/registry-discovery.js';
import type { KvEvent } from '../../src/kv/types.js';
import { killAll, until } from './harness.js';
import { type CliProcess, freePorts, spawnCli } from './kv-processes.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

describe('KV cluster of three server processes', () => {
  let dir: string;
  const live: CliProcess[] = [];
  const members = new Map<string, CliProcess>();
  let addresses: Record<string, string>;
  let kv: KvClient;

  const startMember = async (id: string) => {
    const peers = Object.entries(addresses)
      .map(([pid, a]) => `${pid}=${a}`)
      .join(',');
    const args = ['server', '--id', id, '--data', join(dir, id), '--listen', addresses[id]!, '--peers', peers];
    members.set(id, await spawnCli(id, [...args, '--snapshot-every', '50', '--log-level', 'silent'], live));
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kvp-'));
    const ports = await freePorts(3);
    addresses = { p1: `127.0.0.1:${ports[0]}`, p2: `127.0.0.1:${ports[1]}`, p3: `127.0.0.1:${ports[2]}` };
    await Promise.all(['p1', 'p2', 'p3'].map((id) => startMember(id)));
    kv = await connectKv({ servers: Object.values(addresses), timeoutMs: 30_000 });
  });

  after(async () => {
    await kv?.close();
    await killAll(live);
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives SIGKILL of the leader: writes retry, the watch misses and repeats nothing, the member restarts from disk', async () => {
    const first = await kv.put('proc/0', 'v0');
    const seen: KvEvent[] = [];
    const w = kv.watch({ prefix: 'proc/' }, { startRevision: first.revision });
    w.on((events) => seen.push(...events));
    for (let i = 1; i < 10; i++) await kv.put(`proc/${i}`, `v${i}`);
    const leader = (await kv.status()).id;
    members.get(leader)!.child.kill('SIGKILL');
    await members.get(leader)!.exited;
    for (let i = 10; i < 30; i++) await kv.put(`proc/${i}`, `v${i}`);
    const after = await kv.status();
    assert.notEqual(after.id, leader);
    await until(() => seen.length >= 30, 'every watch event', 30_000);
    w.cancel();
    assert.deepEqual(
      seen.map((e) => text(e.kv.key)),
      Array.from({ length: 30 }, (_, i) => `proc/${i}`),
    );
    for (let i = 0; i < 30; i += 7) assert.equal(text((await kv.get(`proc/${i}`))?.value), `v${i}`);

    await startMember(leader);
    const target = (await kv.put('proc/after-restart', 'x')).revision;
    await until(
      async () => (await kv.cluster.memberStatus(leader).catch(() => ({ revision: -1 }))).revision >= target,
      `${leader} catches up after restarting from its data directory`,
      30_000,
    );
  });

  it('drops a SIGKILLed node from the registry when its lease expires; a SIGTERMed one at once', async () => {
    const servers = Object.values(addresses).join(',');
    const demo = fileURLToDemo();
    const doomed = await spawnCli('reg-doomed', ['node', demo, '--id', 'reg-doomed', '--servers', servers], live);
    const polite = await spawnCli('reg-polite', ['node', demo, '--id', 'reg-polite', '--servers', servers], live);
    const registered = async () =>
      (await kv.range({ prefix: REGISTRY_PREFIX })).kvs.map((k) => text(k.key)!.slice(REGISTRY_PREFIX.length));
    await until(
      async () => (await registered()).includes('reg-doomed') && (await registered()).includes('reg-polite'),
      'both nodes registered',
      30_000,
    );
    doomed.child.kill('SIGKILL');
    polite.child.kill('SIGTERM');
    assert.equal((await polite.exited).code, 0);
    // A graceful stop revokes the lease before the process exits (expiry would need 5 s more).
    assert.ok(!(await registered()).includes('reg-polite'), 'the stopped node deregistered itself');
    // Default TTL 5 s; the leader checks deadlines every 200 ms. Generous bound for a busy machine.
    await until(
      async () => !(await registered()).includes('reg-doomed'),
      'the killed node leaves the registry',
      30_000,
    );
  });

  it('a removed member says so and `parley server` exits with status 1', async () => {
    const [port] = await freePorts(1);
    const address = `127.0.0.1:${port}`;
    await kv.cluster.add('p4', address);
    const peers = Object.entries(addresses)
      .map(([pid, a]) => `${pid}=${a}`)
      .join(',');
    const p4 = await spawnCli(
      'p4',
      ['server', '--id', 'p4', '--data', join(dir, 'p4'), '--listen', address, '--peers', peers, '--join'],
      live,
    );
    const mark = await kv.put('p4/mark', 'x');
    await until(async () => (await kv.cluster.memberStatus('p4')).applied >= mark.revision, 'p4 caught up', 30_000);
    await kv.cluster.remove('p4');
    const { code } = await p4.exited;
    assert.equal(code, 1);
    assert.match(p4.stderr(), /member 'p4' was removed from the cluster/);
    await kv.put('after-p4', 'ok');
  });
});

function fileURLToDemo(): string {
  return new URL('../../src/cli/demo/node-1.js', import.meta.url).pathname;
}
