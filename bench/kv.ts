/**
 * KV benchmark (issue 4 §6): Parley's replicated key-value store against etcd, both as 3 members on loopback in
 * separate OS processes, started and stopped here, in the same run.
 *
 *   npm run bench -- kv [--quick] [--systems parley,etcd] [--clients 1,16,100,500] [--ops put,get]
 *                       [--duration 3] [--warmup 1] [--keys 1000] [--value 100] [--rounds 1] [--cpu-prof DIR]
 *
 * `--cpu-prof DIR`: V8 profiles of the Parley members, summarised at the end, with the per-stage CPU of a put
 * (bench/harness/put-stages.ts; in µs when the run measured exactly one put cell: `--ops put --clients N`).
 *
 * Workload: closed loop, `clients` calls kept outstanding through ONE client object (as an application shares one
 * client), 100-byte values, keys drawn round-robin from a key space of `--keys` keys (filled before the gets).
 * `put` resolves when committed; `get` is linearizable. Each system runs all its cells, then stops, then the next
 * system starts (never two clusters at once). Ratios are Parley ÷ etcd from the same run. `--quick`: 0.5 s warm-up,
 * 1.5 s measured, clients 1 and 100.
 */

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { type RpcSample, runClosedLoop } from './harness/closed-loop.js';
import { printCpuProfileSummary } from './harness/cpu-profile-summary.js';
import { readCpuSeconds } from './harness/process-stats.js';
import { printPutStages } from './harness/put-stages.js';
import { formatCount, formatMicros, formatRatio, formatTable } from './harness/table.js';
import { formatTargets, type TargetCheck } from './harness/targets.js';
import { startEtcdCluster } from './peers/etcd.js';
import type { KvCluster } from './peers/kv-cluster.js';
import { startParleyKvCluster } from './peers/parley-kv.js';
import { PeerUnavailableError } from './peers/peer-system.js';

const STARTERS: Record<string, (o: KvOptions) => Promise<KvCluster>> = {
  parley: (o) => startParleyKvCluster(o.cpuProfileDir ? { cpuProfileDir: o.cpuProfileDir } : {}),
  etcd: () => startEtcdCluster(),
};
const OPS = ['put', 'get'] as const;
type Op = (typeof OPS)[number];

interface KvOptions {
  systems: string[];
  clients: number[];
  ops: Op[];
  warmupMs: number;
  durationMs: number;
  keys: number;
  valueBytes: number;
  /** Rounds: every system runs all its cells once per round (systems alternate); the best round per cell is shown. */
  rounds: number;
  /** V8 CPU profiles of the Parley members go here (node --cpu-prof), summarised at the end. */
  cpuProfileDir: string | undefined;
}

interface KvCell {
  system: string;
  op: Op;
  clients: number;
  sample?: RpcSample;
  error?: string;
  /** CPU time of the members and of this (client) process per completed operation, µs. */
  serverCpuUsPerOp?: number;
  clientCpuUsPerOp?: number;
  /** ops/s of every round (the cell shows the best). */
  roundRates?: number[];
}

/** Keeps, per (system, op, clients), the round with the highest throughput, and every round's rate. */
function keepBest(best: KvCell[], round: KvCell[]): void {
  for (const cell of round) {
    const i = best.findIndex((b) => b.system === cell.system && b.op === cell.op && b.clients === cell.clients);
    const rate = cell.sample?.callsPerSec ?? 0;
    if (i < 0) {
      best.push({ ...cell, roundRates: [rate] });
      continue;
    }
    const rates = [...(best[i]!.roundRates ?? []), rate];
    if (rate > (best[i]!.sample?.callsPerSec ?? -1)) best[i] = { ...cell, roundRates: rates };
    else best[i]!.roundRates = rates;
  }
}

function positiveList(value: string, flag: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n <= 0)) {
    throw new Error(`${flag} expects comma-separated positive numbers, got '${value}'`);
  }
  return list;
}

export function parseKvOptions(args: string[]): KvOptions {
  const o: KvOptions = {
    systems: ['parley', 'etcd'],
    clients: [1, 16, 100, 500],
    ops: [...OPS],
    warmupMs: 1000,
    durationMs: 3000,
    keys: 1000,
    valueBytes: 100,
    cpuProfileDir: undefined,
    rounds: 1,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
        o.warmupMs = 500;
        o.durationMs = 1500;
        o.clients = [1, 100];
        break;
      case '--systems': {
        o.systems = value()
          .split(',')
          .map((s) => s.trim());
        const unknown = o.systems.filter((s) => !(s in STARTERS));
        if (unknown.length > 0) throw new Error(`unknown system(s) ${unknown.join(', ')}; known: parley, etcd`);
        break;
      }
      case '--clients':
        o.clients = positiveList(value(), flag);
        break;
      case '--ops': {
        const ops = value().split(',');
        const unknown = ops.filter((op) => !(OPS as readonly string[]).includes(op));
        if (unknown.length > 0) throw new Error(`unknown op(s) ${unknown.join(', ')}; known: put, get`);
        o.ops = ops as Op[];
        break;
      }
      case '--duration':
        o.durationMs = positiveList(value(), flag)[0]! * 1000;
        break;
      case '--warmup':
        o.warmupMs = Number(value()) * 1000;
        break;
      case '--keys':
        o.keys = positiveList(value(), flag)[0]!;
        break;
      case '--value':
        o.valueBytes = positiveList(value(), flag)[0]!;
        break;
      case '--rounds':
        o.rounds = positiveList(value(), flag)[0]!;
        break;
      case '--cpu-prof':
        o.cpuProfileDir = value();
        break;
      default:
        throw new Error(`unknown option '${flag}'`);
    }
  }
  return o;
}

const keyName = (i: number) => `bench/k${String(i).padStart(6, '0')}`;

function valueBytesOfSize(bytes: number): Uint8Array {
  const v = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) v[i] = 97 + (i % 26);
  return v;
}

/** Writes every key once (100 outstanding), so gets always find a value. */
async function fillKeys(cluster: KvCluster, keys: number, value: Uint8Array): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys) await cluster.put(keyName(next++), value);
  };
  await Promise.all(Array.from({ length: Math.min(100, keys) }, worker));
}

function cpuSeconds(pids: readonly number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const s = readCpuSeconds(pid);
    if (s === undefined) return undefined;
    sum += s;
  }
  return sum;
}

async function measureCell(cluster: KvCluster, op: Op, clients: number, o: KvOptions, value: Uint8Array) {
  const cell: KvCell = { system: cluster.name, op, clients };
  let next = 0;
  const call =
    op === 'put'
      ? () => cluster.put(keyName(next++ % o.keys), value)
      : async () => {
          const got = await cluster.get(keyName(next++ % o.keys));
          if (got === null) throw new Error('get found no value for a key written before');
        };
  const serverBefore = cpuSeconds(cluster.pids);
  const clientBefore = process.cpuUsage();
  try {
    const sample = await runClosedLoop(call, { concurrency: clients, warmupMs: o.warmupMs, durationMs: o.durationMs });
    cell.sample = sample;
    const serverAfter = cpuSeconds(cluster.pids);
    const client = process.cpuUsage(clientBefore);
    const done = Math.max(1, sample.completedInCell);
    if (serverBefore !== undefined && serverAfter !== undefined) {
      cell.serverCpuUsPerOp = ((serverAfter - serverBefore) * 1e6) / done;
    }
    cell.clientCpuUsPerOp = (client.user + client.system) / done;
  } catch (err) {
    cell.error = (err as Error).message;
  }
  return cell;
}

async function runSystem(name: string, o: KvOptions, notes: string[]): Promise<KvCell[]> {
  const started = performance.now();
  let cluster: KvCluster;
  try {
    cluster = await STARTERS[name]!(o);
  } catch (err) {
    const why = err instanceof PeerUnavailableError ? 'unavailable' : 'failed to start';
    notes.push(`${name}: skipped — ${why}: ${(err as Error).message}`);
    return [];
  }
  console.log(`${name}: up in ${((performance.now() - started) / 1000).toFixed(1)} s — ${cluster.description}`);
  const value = valueBytesOfSize(o.valueBytes);
  const cells: KvCell[] = [];
  try {
    if (o.ops.includes('get')) await fillKeys(cluster, o.keys, value);
    for (const op of o.ops) {
      for (const clients of o.clients) {
        const cell = await measureCell(cluster, op, clients, o, value);
        cells.push(cell);
        const s = cell.sample;
        console.log(
          `  ${op} c=${clients}: ${s ? `${formatCount(s.callsPerSec)} ops/s, p50 ${formatMicros(s.p50Us)} µs, p99 ${formatMicros(s.p99Us)} µs, errors ${s.errors}${s.firstError ? ` (${s.firstError})` : ''}` : `error: ${cell.error}`}`,
        );
      }
    }
  } finally {
    await cluster.stop();
  }
  return cells;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function printTable(cells: KvCell[], o: KvOptions): void {
  for (const op of o.ops) {
    const rows: string[][] = [];
    for (const clients of o.clients) {
      const parley = cells.find((c) => c.system === 'parley' && c.op === op && c.clients === clients)?.sample;
      for (const system of o.systems) {
        const cell = cells.find((c) => c.system === system && c.op === op && c.clients === clients);
        const s = cell?.sample;
        rows.push([
          `c=${clients} ${system}`,
          formatCount(s?.callsPerSec),
          formatMicros(s?.p50Us),
          formatMicros(s?.p99Us),
          s ? String(s.errors) : (cell?.error ?? 'not run'),
          formatMicros(cell?.serverCpuUsPerOp),
          formatMicros(cell?.clientCpuUsPerOp),
          formatRatio(ratio(parley?.callsPerSec, s?.callsPerSec)),
          formatRatio(ratio(parley?.p99Us, s?.p99Us)),
          cell?.roundRates && cell.roundRates.length > 1 ? cell.roundRates.map((r) => formatCount(r)).join(' / ') : '',
        ]);
      }
    }
    console.log(`\n${op}, ${o.valueBytes}-byte values (${o.durationMs / 1000} s measured per cell)`);
    console.log(
      formatTable(
        [
          'cell',
          `${op}s/s`,
          'p50 µs',
          'p99 µs',
          'errors',
          'srv cpu µs/op',
          'cli cpu µs/op',
          'parley÷sys ops/s',
          'parley÷sys p99',
          'all rounds ops/s',
        ],
        rows,
      ),
    );
  }
}

function targetChecks(cells: KvCell[]): TargetCheck[] {
  const at100 = (system: string) => cells.find((c) => c.system === system && c.op === 'put' && c.clients === 100);
  const p = at100('parley')?.sample;
  const e = at100('etcd')?.sample;
  const throughput = ratio(p?.callsPerSec, e?.callsPerSec);
  const p99 = ratio(p?.p99Us, e?.p99Us);
  return [
    {
      target: 'puts/s at 100 clients: parley ≥ 4× etcd',
      measured:
        throughput === undefined
          ? 'n/a'
          : `${formatRatio(throughput)} (${formatCount(p?.callsPerSec)} / ${formatCount(e?.callsPerSec)} puts/s)`,
      met: throughput === undefined ? undefined : throughput >= 4,
    },
    {
      target: 'put p99 at 100 clients: parley ≤ etcd',
      measured:
        p99 === undefined ? 'n/a' : `${formatRatio(p99)} (${formatMicros(p?.p99Us)} µs / ${formatMicros(e?.p99Us)} µs)`,
      met: p99 === undefined ? undefined : p99 <= 1,
    },
  ];
}

export async function run(args: string[]): Promise<void> {
  const o = parseKvOptions(args);
  console.log(`kv benchmark — ${new Date().toISOString()}`);
  console.log(`machine: ${availableParallelism()} cpus; node ${process.version}`);
  console.log(`command: npm run bench -- kv ${args.join(' ')}`.trimEnd());
  console.log(
    `cells: warm-up ${o.warmupMs / 1000} s + ${o.durationMs / 1000} s measured; clients ${o.clients.join(', ')}; ` +
      `${o.keys} keys, ${o.valueBytes}-byte values; rounds ${o.rounds}${o.rounds > 1 ? ' (best shown)' : ''}; ` +
      'load generated in this process, not pinned',
  );
  const notes: string[] = [];
  const cells: KvCell[] = [];
  for (let round = 0; round < o.rounds; round++) {
    // Alternate which system goes first, so neither always runs on a fresher (or more loaded) machine.
    const order = round % 2 === 0 ? o.systems : [...o.systems].reverse();
    for (const system of order) keepBest(cells, await runSystem(system, o, notes));
  }
  for (const note of new Set(notes)) console.log(`NOTE ${note}`);
  printTable(cells, o);
  console.log('');
  console.log(formatTargets(targetChecks(cells)));
  if (o.cpuProfileDir && o.systems.includes('parley')) {
    printCpuProfileSummary(o.cpuProfileDir, 'parley-server');
    // µs per stage only when the profile covers one put cell (otherwise shares only).
    const puts = cells.filter((c) => c.system === 'parley' && c.op === 'put');
    const single =
      puts.length === 1 && !o.ops.includes('get') && o.rounds === 1 ? puts[0]!.serverCpuUsPerOp : undefined;
    printPutStages(o.cpuProfileDir, 'parley-server', single);
  }
}
