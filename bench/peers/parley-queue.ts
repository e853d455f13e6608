/**
 * Parley's durable streams as a queue-benchmark system: three `parley server` processes (bin/parley, defaults: WAL
 * with fdatasync, tickMs 50) on loopback with their own data directories, one `connectQueues` client
 * (src/cluster/client/queue-client.ts) given all three addresses. A queue is a stream with 3 replicas and
 * `partitions` partitions (each its own Raft group, leaders spread over the members) and one durable competing
 * consumer `work`; publishes carry no key (the client round-robins partitions) and no msgId.
 *
 * Each consumer is a loop on the same consumer `work`: `QueueClient.fetch` (up to 100 messages per partition, long
 * poll 200 ms), then every message's `ack()` at once, awaited — Parley's ack is a replicated command, so `onAcked`
 * counts committed acks.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectQueues, type QueueClient } from '../../src/cluster/client/queue-client.js';
import { freePorts } from '../harness/free-ports.js';
import { startMember, stopMember } from './parley-kv.js';
import type { BenchQueue, QueueSystem } from './queue-system.js';

const IDS = ['s1', 's2', 's3'];
const START_TIMEOUT_MS = 30_000;
/** Fetch batch and in-flight acks per consumer loop (as RabbitMQ's prefetch and JetStream's pull batch). */
const BATCH = 100;

class ParleyQueue implements BenchQueue {
  constructor(
    private readonly client: QueueClient,
    private readonly name: string,
  ) {}

  async publish(payload: Uint8Array): Promise<void> {
    await this.client.publish(this.name, payload, { stream: this.name });
  }

  async consume(consumers: number, onAcked: () => void): Promise<{ stop(): Promise<void> }> {
    let stopped = false;
    const loop = async () => {
      while (!stopped) {
        try {
          const batch = await this.client.fetch(this.name, 'work', { max: BATCH, waitMs: 200 });
          await Promise.all(batch.map((m) => m.ack().then(onAcked)));
        } catch {
          if (!stopped) await sleep(50);
        }
      }
    };
    const running = Array.from({ length: consumers }, loop);
    return {
      stop: async () => {
        stopped = true;
        await Promise.all(running);
      },
    };
  }

  async delete(): Promise<void> {
    await this.client.streams.delete(this.name);
  }
}

class ParleyQueueSystem implements QueueSystem {
  readonly name = 'parley';
  readonly description =
    'Parley streams, 3 `parley server` members on 127.0.0.1 (own process and WAL dir each, fdatasync), replicas 3, connectQueues client';
  readonly partitioned = true;

  constructor(
    private readonly members: ChildProcess[],
    private readonly client: QueueClient,
    private readonly dataRoot: string,
  ) {}

  get pids(): number[] {
    return this.members.map((m) => m.pid ?? -1);
  }

  async createQueue(name: string, partitions: number): Promise<BenchQueue> {
    await this.client.streams.create({ name, subjects: [name], partitions, replicas: 3 });
    // The partitions' groups start on the members after the stream record is written: retry until they answer.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await this.client.consumers.create(name, { name: 'work', maxAckPending: 100_000, ackWaitMs: 60_000 });
        return new ParleyQueue(this.client, name);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  async stop(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await Promise.all(this.members.map(stopMember));
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

/** Starts a fresh 3-member Parley cluster and waits until it accepts a stream. */
export async function startParleyQueueSystem(): Promise<QueueSystem> {
  const ports = await freePorts(IDS.length);
  const address = (i: number) => `127.0.0.1:${ports[i]}`;
  const peers = IDS.map((id, i) => `${id}=${address(i)}`).join(',');
  const dataRoot = mkdtempSync(join(tmpdir(), 'parley-bench-queue-'));
  const started = await Promise.allSettled(
    IDS.map((id, i) =>
      startMember(
        ['--id', id, '--data', join(dataRoot, id), '--listen', address(i), '--peers', peers, '--log-level', 'error'],
        [],
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
  const client = await connectQueues({ servers: IDS.map((_, i) => address(i)), timeoutMs: 15_000 });
  const system = new ParleyQueueSystem(members, client, dataRoot);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const probe = await system.createQueue('bench-ready', 1);
      await probe.publish(new Uint8Array(1));
      await probe.delete();
      return system;
    } catch (err) {
      if (Date.now() > deadline) {
        await system.stop();
        throw new Error(`Parley cluster did not accept a stream within 30 s: ${(err as Error).message}`);
      }
      await sleep(200);
    }
  }
}
