/**
 * Parley's replicated KV store as a KV benchmark system: three server members on loopback, each in its own OS
 * process with its own WAL directory (bench/kv-server-member.ts: what `parley server` runs, default settings),
 * driven by one `connectKv` client (src/cluster/kv-client.ts) given all three addresses. Gets are linearizable (the
 * client's default: ReadIndex on the leader).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connectKv, type KvClient } from '../../src/cluster/kv-client.js';
import { freePorts } from '../harness/free-ports.js';
import { installChildCleanup, PeerProcessHandle } from '../harness/peer-process-handle.js';
import type { KvCluster } from './kv-cluster.js';

const MEMBER_ENTRY = fileURLToPath(new URL('../kv-server-member.js', import.meta.url));
const IDS = ['s1', 's2', 's3'];

class ParleyKvCluster implements KvCluster {
  readonly name = 'parley';
  readonly description =
    'Parley KV, 3 members on 127.0.0.1 (own process and WAL dir each, default raft settings), connectKv client';

  constructor(
    private readonly members: PeerProcessHandle[],
    private readonly client: KvClient,
    private readonly dataRoot: string,
  ) {}

  get pids(): number[] {
    return this.members.map((m) => m.pid);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.client.put(key, value);
  }

  async get(key: string): Promise<Uint8Array | null> {
    return (await this.client.get(key))?.value ?? null;
  }

  async stop(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await Promise.all(this.members.map((m) => m.stop()));
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

/** Starts a fresh 3-member Parley KV cluster and waits until it accepts a write. */
export async function startParleyKvCluster(options: { cpuProfileDir?: string } = {}): Promise<KvCluster> {
  installChildCleanup();
  const ports = await freePorts(IDS.length);
  const address = (i: number) => `127.0.0.1:${ports[i]}`;
  const peers = IDS.map((id, i) => `${id}=${address(i)}`).join(',');
  const dataRoot = mkdtempSync(join(tmpdir(), 'parley-bench-kv-'));
  const members = await Promise.all(
    IDS.map((id, i) =>
      PeerProcessHandle.spawnScript(
        `parley server ${id}`,
        MEMBER_ENTRY,
        [id, join(dataRoot, id), address(i), peers],
        `parley-server-${id}`,
        options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {},
      ),
    ),
  );
  const client = await connectKv({ servers: IDS.map((_, i) => address(i)), timeoutMs: 10_000 });
  const cluster = new ParleyKvCluster(members, client, dataRoot);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.put('parley-bench/ready', '1');
      return cluster;
    } catch (err) {
      if (Date.now() > deadline) {
        await cluster.stop();
        throw new Error(`Parley KV cluster did not accept a write within 30 s: ${(err as Error).message}`);
      }
      await sleep(200);
    }
  }
}
