/**
 * Parley's replicated KV store as a KV benchmark system: three `parley server` processes (bin/parley, default
 * settings: WAL with fdatasync, tickMs 50, snapshot every 10,000 entries) on loopback, each with its own data
 * directory, driven by one `connectKv` client (src/cluster/kv-client.ts) given all three addresses. Gets are
 * linearizable (the client's default: ReadIndex on the leader).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connectKv, type KvClient } from '../../src/cluster/client/kv-client.js';
import { freePorts } from '../harness/free-ports.js';
import type { KvCluster } from './kv-cluster.js';

const PARLEY_BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const IDS = ['s1', 's2', 's3'];
const START_TIMEOUT_MS = 30_000;

/** Spawns `parley server` and resolves once it printed its "listening on" line. */
export function startMember(args: string[], nodeArgs: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, PARLEY_BIN, 'server', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parley server ${args.join(' ')}: not listening after ${START_TIMEOUT_MS} ms ${stderr}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`parley server exited during start (code ${code}, signal ${signal}): ${stderr.trim()}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!/listening on/.test(line)) return;
      clearTimeout(timer);
      resolve(child);
    });
  });
}

/** SIGTERM (a graceful stop, so --cpu-prof writes its profile); SIGKILL after 5 s. */
export function stopMember(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

class ParleyKvCluster implements KvCluster {
  readonly name = 'parley';
  readonly description =
    'Parley KV, 3 `parley server` members on 127.0.0.1 (own process and WAL dir each, defaults), connectKv client';

  constructor(
    private readonly members: ChildProcess[],
    private readonly client: KvClient,
    private readonly dataRoot: string,
  ) {}

  get pids(): number[] {
    return this.members.map((m) => m.pid ?? -1);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.client.put(key, value);
  }

  async get(key: string): Promise<Uint8Array | null> {
    return (await this.client.get(key))?.value ?? null;
  }

  async stop(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await Promise.all(this.members.map(stopMember));
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

/** Starts a fresh 3-member Parley KV cluster and waits until it accepts a write. */
export async function startParleyKvCluster(options: { cpuProfileDir?: string } = {}): Promise<KvCluster> {
  const ports = await freePorts(IDS.length);
  const address = (i: number) => `127.0.0.1:${ports[i]}`;
  const peers = IDS.map((id, i) => `${id}=${address(i)}`).join(',');
  const dataRoot = mkdtempSync(join(tmpdir(), 'parley-bench-kv-'));
  const nodeArgs = (id: string) =>
    options.cpuProfileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, `--cpu-prof-name=parley-server-${id}.cpuprofile`]
      : [];
  const started = await Promise.allSettled(
    IDS.map((id, i) =>
      startMember(
        ['--id', id, '--data', join(dataRoot, id), '--listen', address(i), '--peers', peers, '--log-level', 'error'],
        nodeArgs(id),
      ),
    ),
  );
  const members = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(members.map(stopMember));
    rmSync(dataRoot, { recursive: true, force: true });
    throw (failed as PromiseRejectedResult).reason;
  }
  const client = await connectKv({ servers: IDS.map((_, i) => address(i)), timeoutMs: 10_000 });
  const cluster = new ParleyKvCluster(members, client, dataRoot);
  const deadline = Date.now() + START_TIMEOUT_MS;
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
