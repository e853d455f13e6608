/**
 * NATS JetStream as a queue-benchmark system, file storage, in two shapes:
 *   - `jetstream-r1`: one replica on the NATS server already running at 127.0.0.1:4222 (BENCH_NATS_URL; not started
 *     here, skipped when it does not answer or has no JetStream);
 *   - `jetstream-r3`: three replicas on three `nats-server` processes (BENCH_NATS_SERVER_BIN, else nats-server on
 *     PATH, /usr/sbin or /usr/bin) clustered on loopback, started and stopped here with their own store dirs.
 * Durability is JetStream's default: a publish is acked once stored (R3: by a quorum of the stream's Raft group);
 * nats-server 2.9 has no per-message fsync setting (sync_interval came in 2.10), so its writes are flushed to the
 * OS, not fsynced, before the ack — a weaker guarantee than Parley's fdatasync, stated in the report.
 *
 * A queue is a limits stream with one durable pull consumer `work` (explicit ack). A consumer is `consumer.consume()`
 * with a 100-message pull batch; every message is acked with `ackAck()` (the server confirms the ack) and counted
 * when the confirmation arrives. One connection per system; publishers share it (as an application shares one).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AckPolicy,
  connect,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  nanos,
  StorageType,
} from 'nats';
import { freePorts } from '../harness/free-ports.js';
import { PeerUnavailableError } from './peer-system.js';
import type { BenchQueue, QueueSystem } from './queue-system.js';

const NATS_URL = process.env.BENCH_NATS_URL ?? '127.0.0.1:4222';
const START_TIMEOUT_MS = 30_000;
const BATCH = 100;

class JetStreamQueue implements BenchQueue {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly name: string,
  ) {}

  async publish(payload: Uint8Array): Promise<void> {
    await this.js.publish(this.name, payload);
  }

  async consume(consumers: number, onAcked: () => void): Promise<{ stop(): Promise<void> }> {
    const running: Promise<void>[] = [];
    const iterators: { stop(): void }[] = [];
    for (let i = 0; i < consumers; i++) {
      const consumer = await this.js.consumers.get(this.name, 'work');
      const messages = await consumer.consume({ max_messages: BATCH });
      iterators.push(messages);
      running.push(
        (async () => {
          for await (const m of messages) {
            m.ackAck().then(
              (ok) => ok && onAcked(),
              () => undefined,
            );
          }
        })().catch(() => undefined),
      );
    }
    return {
      stop: async () => {
        for (const it of iterators) it.stop();
        await Promise.all(running);
      },
    };
  }

  async delete(): Promise<void> {
    await this.jsm.streams.delete(this.name);
  }
}

class JetStreamSystem implements QueueSystem {
  readonly partitioned = false;

  constructor(
    readonly name: string,
    readonly description: string,
    readonly pids: readonly number[],
    private readonly replicas: number,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly onStop: () => Promise<void>,
  ) {}

  async createQueue(name: string): Promise<BenchQueue> {
    await this.jsm.streams.add({ name, subjects: [name], storage: StorageType.File, num_replicas: this.replicas });
    await this.jsm.consumers.add(name, {
      durable_name: 'work',
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 100_000,
      ack_wait: nanos(60_000),
    });
    return new JetStreamQueue(this.nc.jetstream(), this.jsm, name);
  }

  async stop(): Promise<void> {
    await this.nc.close().catch(() => undefined);
    await this.onStop();
  }
}

/** Pids of running processes whose command name is `comm` (from /proc). */
export function pidsNamed(comm: string): number[] {
  const probe = spawnSync('pidof', [comm], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim().split(/\s+/).map(Number) : [];
}

/** JetStream R1 on the running NATS server. */
export async function startJetStreamR1(): Promise<QueueSystem> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: NATS_URL, name: 'bench-queue', timeout: 2000, maxReconnectAttempts: 0 });
  } catch (err) {
    throw new PeerUnavailableError(`NATS server at ${NATS_URL} did not answer: ${(err as Error).message}`);
  }
  let jsm: JetStreamManager;
  try {
    jsm = await nc.jetstreamManager();
  } catch (err) {
    await nc.close();
    throw new PeerUnavailableError(`NATS server at ${NATS_URL} has no JetStream: ${(err as Error).message}`);
  }
  return new JetStreamSystem(
    'jetstream-r1',
    `JetStream R1, file storage, on the running nats-server ${nc.info?.version ?? ''} at ${NATS_URL}; nats.js client`,
    pidsNamed('nats-server'),
    1,
    nc,
    jsm,
    async () => undefined,
  );
}

function natsServerBin(): string | null {
  const candidates = [
    process.env.BENCH_NATS_SERVER_BIN,
    'nats-server',
    '/usr/sbin/nats-server',
    '/usr/bin/nats-server',
  ];
  for (const bin of candidates) {
    if (bin === undefined) continue;
    if (bin.includes('/') && !existsSync(bin)) continue;
    if (spawnSync(bin, ['--version']).status === 0) return bin;
  }
  return null;
}

function stopChild(child: ChildProcess): Promise<void> {
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

/** JetStream R3: three nats-server processes clustered on loopback, started here. */
export async function startJetStreamR3(): Promise<QueueSystem> {
  const bin = natsServerBin();
  if (bin === null) {
    throw new PeerUnavailableError('no nats-server binary (apt-get install nats-server, or set BENCH_NATS_SERVER_BIN)');
  }
  const ports = await freePorts(6);
  const dataRoot = mkdtempSync(join(tmpdir(), 'parley-bench-js-'));
  const routes = [0, 1, 2].map((i) => `nats-route://127.0.0.1:${ports[3 + i]}`).join(', ');
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(children.map(stopChild));
    rmSync(dataRoot, { recursive: true, force: true });
  };
  for (let i = 0; i < 3; i++) {
    const conf = join(dataRoot, `n${i + 1}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: n${i + 1}`,
        'listen: 127.0.0.1:' + ports[i],
        `jetstream { store_dir: "${join(dataRoot, `n${i + 1}`)}" }`,
        `cluster { name: bench, listen: 127.0.0.1:${ports[3 + i]}, routes: [${routes}] }`,
      ].join('\n'),
    );
    const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
    process.once('exit', () => child.kill('SIGKILL'));
    children.push(child);
  }
  const servers = [0, 1, 2].map((i) => `127.0.0.1:${ports[i]}`);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({ servers, name: 'bench-queue-r3', timeout: 2000 });
      const jsm = await nc.jetstreamManager();
      const system = new JetStreamSystem(
        'jetstream-r3',
        `JetStream R3, file storage, 3 nats-server ${nc.info?.version ?? ''} processes on 127.0.0.1 (started here); nats.js client`,
        children.map((c) => c.pid ?? -1),
        3,
        nc,
        jsm,
        stopAll,
      );
      const probe = await system.createQueue('bench-ready');
      await probe.publish(new Uint8Array(1));
      await probe.delete();
      return system;
    } catch (err) {
      await nc?.close().catch(() => undefined);
      if (Date.now() > deadline) {
        await stopAll();
        throw new Error(`JetStream R3 cluster not ready within 30 s: ${(err as Error).message}`);
      }
      await sleep(300);
    }
  }
}
