/**
 * etcd as the KV benchmark's reference: three `etcd` members (Debian package etcd-server) on loopback, each in its
 * own OS process with its own data directory, default durability (fdatasync per batch) and default tuning
 * (heartbeat 100 ms, election 1000 ms), driven by the `etcd3` npm client with all three client URLs. Gets are
 * linearizable (etcd3's default, serializable=false). The cluster is started and stopped by the benchmark; the
 * peer is unavailable when no `etcd` binary is installed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { freePorts } from '../harness/free-ports.js';
import type { KvCluster } from './kv-cluster.js';
import { PeerUnavailableError } from './peer-system.js';

const ETCD_BIN = process.env.BENCH_ETCD_BIN ?? 'etcd';
const MEMBERS = 3;

function etcdVersion(): string | null {
  const probe = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0 || probe.error) return null;
  return /etcd Version:\s*(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown';
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

class EtcdCluster implements KvCluster {
  readonly name = 'etcd';

  constructor(
    readonly description: string,
    private readonly children: ChildProcess[],
    private readonly client: Etcd3,
    private readonly dataRoot: string,
  ) {}

  get pids(): number[] {
    return this.children.map((c) => c.pid ?? -1);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.client.put(key).value(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.client.get(key).buffer();
  }

  async stop(): Promise<void> {
    this.client.close();
    for (const child of this.children) child.kill('SIGTERM');
    await Promise.all(this.children.map((c) => waitExit(c, 5000)));
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

/** Starts a fresh 3-member etcd cluster and waits until it accepts a write. */
export async function startEtcdCluster(): Promise<KvCluster> {
  const version = etcdVersion();
  if (version === null) {
    throw new PeerUnavailableError(
      `no '${ETCD_BIN}' binary found: install the Debian package etcd-server (apt-get install etcd-server) ` +
        'or set BENCH_ETCD_BIN',
    );
  }
  const ports = await freePorts(MEMBERS * 2);
  const names = Array.from({ length: MEMBERS }, (_, i) => `etcd${i}`);
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[2 * i]}`;
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const dataRoot = mkdtempSync(join(tmpdir(), 'parley-bench-etcd-'));
  const children: ChildProcess[] = [];
  const logs: string[] = names.map(() => '');
  for (let i = 0; i < MEMBERS; i++) {
    const child = spawn(
      ETCD_BIN,
      [
        '--name',
        names[i]!,
        '--data-dir',
        join(dataRoot, names[i]!),
        '--listen-client-urls',
        clientUrl(i),
        '--advertise-client-urls',
        clientUrl(i),
        '--listen-peer-urls',
        peerUrl(i),
        '--initial-advertise-peer-urls',
        peerUrl(i),
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        `parley-bench-${process.pid}`,
        '--log-level',
        'error',
        '--logger',
        'zap',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      logs[i] = (logs[i] + chunk.toString()).slice(-2000);
    });
    children.push(child);
  }
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });

  const client = new Etcd3({ hosts: names.map((_, i) => clientUrl(i)), dialTimeout: 5000 });
  const cluster = new EtcdCluster(
    `etcd ${version}, ${MEMBERS} members on 127.0.0.1 (own process and data dir each, defaults), etcd3 npm client`,
    children,
    client,
    dataRoot,
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const dead = children.findIndex((c) => c.exitCode !== null);
    if (dead >= 0) {
      await cluster.stop();
      throw new Error(`etcd member ${names[dead]} exited during start: ${logs[dead]!.trim()}`);
    }
    try {
      await client.put('parley-bench/ready').value('1');
      return cluster;
    } catch (err) {
      if (Date.now() > deadline) {
        await cluster.stop();
        throw new Error(`etcd cluster did not accept a write within 30 s: ${(err as Error).message}`);
      }
      await sleep(200);
    }
  }
}
