/**
 * Durable queue benchmark (issue 12 §5): Parley's streams against NATS JetStream (R1 on the running server, R3 on
 * three nats-server processes started here) and RabbitMQ quorum queues with publisher confirms, in the same run.
 *
 *   npm run bench -- queue [--quick] [--systems parley,jetstream-r1,jetstream-r3,rabbitmq] [--payloads 100,1024]
 *                          [--counts 1,10,100] [--scaling 1,3,6] [--duration 2] [--warmup 0.5]
 *
 * Cells, per system, payload size and count n (each on a fresh queue, deleted after it):
 *   - publish: n publishers in a closed loop (one outstanding publish each, all through one client connection);
 *     a publish counts when the system acknowledged it as durably stored (Parley: committed by 2 of 3 members and
 *     fdatasynced; the peers: see their descriptions). Latency is per publish.
 *   - e2e: the same n publishers plus n competing consumers acking every message; the rate is messages acked
 *     inside the measured window (publish → consume → ack).
 * Scaling (Parley only; partitioned systems): the publish and e2e cells at the largest count and smallest payload,
 * with 1, 3 and 6 partitions on the 3 members. The main cells use 1 partition (one Raft group, as one JetStream
 * stream or one quorum queue). CPU per message: the system's server processes (from /proc) and this process.
 * Systems run one after another (never two clusters at once). Ratios are Parley ÷ system from the same run.
 * `--quick` is the CI-size run (bench/queue.test.ts runs a smaller one still inside `npm test`).
 */

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { runClosedLoop } from './harness/closed-loop.js';
import { readCpuSeconds } from './harness/process-stats.js';
import { formatCount, formatMicros } from './harness/table.js';
import { startJetStreamR1, startJetStreamR3 } from './peers/jetstream.js';
import { startParleyQueueSystem } from './peers/parley-queue.js';
import { PeerUnavailableError } from './peers/peer-system.js';
import type { QueueSystem } from './peers/queue-system.js';
import { startRabbitMq } from './peers/rabbitmq.js';
import { type QueueCell, reportQueueBench } from './queue-report.js';

const STARTERS: Record<string, () => Promise<QueueSystem>> = {
  parley: startParleyQueueSystem,
  'jetstream-r1': startJetStreamR1,
  'jetstream-r3': startJetStreamR3,
  rabbitmq: startRabbitMq,
};

export interface QueueOptions {
  systems: string[];
  payloads: number[];
  counts: number[];
  /** Partition counts of the scaling table (Parley; empty: no scaling table). */
  scaling: number[];
  warmupMs: number;
  durationMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  systems: Object.keys(STARTERS),
  payloads: [100, 1024],
  counts: [1, 10, 100],
  scaling: [1, 3, 6],
  warmupMs: 500,
  durationMs: 2000,
};

export const QUICK_QUEUE_OPTIONS: QueueOptions = {
  ...DEFAULT_QUEUE_OPTIONS,
  payloads: [100],
  counts: [1, 10],
  scaling: [1, 3],
  warmupMs: 200,
  durationMs: 700,
};

function positiveList(value: string, flag: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`${flag} expects comma-separated positive integers, got '${value}'`);
  }
  return list;
}

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} expects seconds (a number ≥ 0), got '${value}'`);
  return n * 1000;
}

export function parseQueueOptions(args: string[]): QueueOptions {
  const o: QueueOptions = { ...DEFAULT_QUEUE_OPTIONS };
  const rest: [string, string][] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (flag === '--quick') {
      Object.assign(o, QUICK_QUEUE_OPTIONS);
      continue;
    }
    const value = args[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    rest.push([flag, value]);
  }
  // Explicit flags override --quick wherever they stand.
  for (const [flag, value] of rest) {
    switch (flag) {
      case '--systems': {
        o.systems = value.split(',').map((s) => s.trim());
        const unknown = o.systems.filter((s) => !(s in STARTERS));
        if (unknown.length > 0) {
          throw new Error(`unknown system(s) ${unknown.join(', ')}; known: ${Object.keys(STARTERS).join(', ')}`);
        }
        break;
      }
      case '--payloads':
        o.payloads = positiveList(value, flag);
        break;
      case '--counts':
        o.counts = positiveList(value, flag);
        break;
      case '--scaling':
        o.scaling = value === 'none' ? [] : positiveList(value, flag);
        break;
      case '--duration':
        o.durationMs = seconds(value, flag);
        break;
      case '--warmup':
        o.warmupMs = seconds(value, flag);
        break;
      default:
        throw new Error(`unknown option '${flag}'`);
    }
  }
  return o;
}

function cpuSeconds(pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined;
  let sum = 0;
  for (const pid of pids) {
    const s = readCpuSeconds(pid);
    if (s === undefined) return undefined;
    sum += s;
  }
  return sum;
}

function payloadOfSize(bytes: number): Uint8Array {
  const v = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) v[i] = 97 + (i % 26);
  return v;
}

let queueCounter = 0;

/** One cell on a fresh queue: n publishers, plus n acking consumers when `kind` is e2e. */
async function measureCell(system: QueueSystem, cell: Omit<QueueCell, 'system'>, o: QueueOptions): Promise<QueueCell> {
  const result: QueueCell = { ...cell, system: system.name };
  const name = `bench-${process.pid}-${++queueCounter}`;
  const payload = payloadOfSize(cell.payload);
  let queue: Awaited<ReturnType<QueueSystem['createQueue']>> | undefined;
  try {
    queue = await system.createQueue(name, cell.partitions);
    let ackedInWindow = 0;
    let ackedInCell = 0;
    let windowFrom = Number.POSITIVE_INFINITY;
    let windowUntil = 0;
    const consumers =
      cell.kind === 'e2e'
        ? await queue.consume(cell.count, () => {
            ackedInCell++;
            const now = performance.now();
            if (now >= windowFrom && now < windowUntil) ackedInWindow++;
          })
        : undefined;
    const serverBefore = cpuSeconds(system.pids);
    const clientBefore = process.cpuUsage();
    const started = performance.now();
    windowFrom = started + o.warmupMs;
    windowUntil = windowFrom + o.durationMs;
    const q = queue;
    const sample = await runClosedLoop(() => q.publish(payload), {
      concurrency: cell.count,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
    });
    const serverAfter = cpuSeconds(system.pids);
    const client = process.cpuUsage(clientBefore);
    await consumers?.stop();
    result.sample = sample;
    // Per message: published messages in a publish cell, acked ones in an e2e cell (each was also published).
    const messages = Math.max(1, cell.kind === 'e2e' ? ackedInCell : sample.completedInCell);
    if (serverBefore !== undefined && serverAfter !== undefined) {
      result.serverCpuUsPerMsg = ((serverAfter - serverBefore) * 1e6) / messages;
    }
    result.clientCpuUsPerMsg = (client.user + client.system) / messages;
    if (cell.kind === 'e2e') result.ackedPerSec = ackedInWindow / (o.durationMs / 1000);
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    await queue?.delete().catch(() => undefined);
  }
  return result;
}

function describeCell(c: QueueCell): string {
  const s = c.sample;
  if (!s) return `error: ${c.error}`;
  const acked = c.ackedPerSec !== undefined ? `, ${formatCount(c.ackedPerSec)} acked/s` : '';
  const err = s.errors > 0 ? `, errors ${s.errors} (${s.firstError})` : '';
  return `${formatCount(s.callsPerSec)} publishes/s${acked}, p50 ${formatMicros(s.p50Us)} µs, p99 ${formatMicros(s.p99Us)} µs${err}`;
}

async function runSystem(
  name: string,
  o: QueueOptions,
  notes: string[],
  progress: (line: string) => void,
): Promise<QueueCell[]> {
  const t0 = performance.now();
  let system: QueueSystem;
  try {
    system = await STARTERS[name]!();
  } catch (err) {
    const why = err instanceof PeerUnavailableError ? 'unavailable' : 'failed to start';
    notes.push(`${name}: skipped — ${why}: ${(err as Error).message}`);
    progress(`${name}: skipped — ${why}: ${(err as Error).message}`);
    return [];
  }
  progress(`${name}: up in ${((performance.now() - t0) / 1000).toFixed(1)} s — ${system.description}`);
  notes.push(`${name}: ${system.description}`);
  const cells: QueueCell[] = [];
  try {
    for (const payload of o.payloads) {
      for (const kind of ['publish', 'e2e'] as const) {
        for (const count of o.counts) {
          const cell = await measureCell(system, { kind, payload, count, partitions: 1 }, o);
          cells.push(cell);
          progress(`  ${kind} ${payload} B n=${count}: ${describeCell(cell)}`);
        }
      }
    }
    if (system.partitioned) {
      const count = Math.max(...o.counts);
      const payload = Math.min(...o.payloads);
      for (const partitions of o.scaling) {
        for (const kind of ['publish', 'e2e'] as const) {
          const cell = await measureCell(system, { kind, payload, count, partitions, scaling: true }, o);
          cells.push(cell);
          progress(`  scaling ${partitions} partitions ${kind} n=${count}: ${describeCell(cell)}`);
        }
      }
    }
  } finally {
    await system.stop();
  }
  return cells;
}

export interface QueueBenchIo {
  print(text: string): void;
  progress(line: string): void;
}

export async function runQueueBench(o: QueueOptions, io: QueueBenchIo, command = ''): Promise<QueueCell[]> {
  io.print(`queue benchmark — ${new Date().toISOString()}`);
  io.print(`machine: ${availableParallelism()} cpus; node ${process.version}`);
  if (command) io.print(`command: ${command}`);
  io.print(
    `cells: warm-up ${o.warmupMs / 1000} s + ${o.durationMs / 1000} s measured; payloads ${o.payloads.join(', ')} B; ` +
      `publishers (and consumers in e2e) ${o.counts.join(', ')}; scaling partitions ${o.scaling.join(', ') || 'none'}; ` +
      'load generated in this process, not pinned (the brokers of jetstream-r1 and rabbitmq are running services)',
  );
  const notes: string[] = [];
  const cells: QueueCell[] = [];
  for (const system of o.systems) cells.push(...(await runSystem(system, o, notes, io.progress)));
  reportQueueBench(cells, o, notes, io.print);
  return cells;
}

export async function run(args: string[]): Promise<void> {
  const o = parseQueueOptions(args);
  await runQueueBench(
    o,
    { print: (text) => console.log(text), progress: (line) => console.log(line) },
    `npm run bench -- queue ${args.join(' ')}`.trimEnd(),
  );
}
