/**
 * RPC benchmark: request/response echo, each system's server and client in separate OS processes on loopback.
 *
 *   npm run bench -- rpc [--short] [--duration 3] [--warmup 1] [--systems parley,pingpong,bare,moleculer,nats,grpc]
 *                        [--concurrency 1,100,1000] [--payload 16,1024] [--rounds 1] [--json] [--cpu-prof DIR]
 *
 * Every cell (payload × concurrency) runs all systems back to back, in a rotated order, so the comparison within a
 * cell is taken under the same machine load. Ratios are Parley ÷ system from the same run. Two floors run with the
 * peers: `pingpong` (one raw msgpack frame per message, written at once: the round trip no framework can beat, the
 * reference for latency at c=1) and `bare` (pipelined msgpack echo with per-tick write batching: the reference for
 * throughput). Targets are checked per round and reported as the median with the spread over rounds. The CPU
 * budget of one call, stage by stage against the ping-pong floor, follows the tables (harness/call-stages.ts).
 * Also reports each server's idle RSS (2 s after start, before any client connected).
 *
 * `--short` is the CI-sized run: 1 s per cell after 0.5 s warm-up, c=1 and c=100, 16 B, parley + the floors +
 * moleculer + grpc.
 */

import { type BenchOptions, parseBenchOptions } from './harness/bench-options.js';
import { measureCallStages, type StageCost } from './harness/call-stages.js';
import type { RpcSample } from './harness/closed-loop.js';
import { CpuMeter } from './harness/cpu-meter.js';
import { printCpuProfileSummary } from './harness/cpu-profile-summary.js';
import { makePayload } from './harness/payloads.js';
import { formatLoad, printRunHeader } from './harness/run-header.js';
import {
  type RunningSystem,
  rotated,
  type StartedSystems,
  startSystems,
  stopSystems,
} from './harness/system-processes.js';
import { formatCount, formatMicros, formatRatio, formatTable } from './harness/table.js';
import { formatTargets, type TargetCheck } from './harness/targets.js';

const REFERENCE = 'parley';
const FLOOR = 'pingpong';
const BARE = 'bare';
const IDLE_RSS_TARGET_MB = 60;
/** The targets (issue "Before the next floors", section 4). */
const P50_OVER_FLOOR_AT_MOST = 1.1;
const OVER_BARE_AT_LEAST = 0.9;
const OVER_MOLECULER_AT_LEAST = 4;
const OVER_GRPC_AT_LEAST = 25;

export interface RpcCell {
  system: string;
  payloadBytes: number;
  concurrency: number;
  round: number;
  sample?: RpcSample;
  error?: string;
  /** CPU used during the cell (warm-up included), as % of one core. */
  serverCpuPct?: number;
  clientCpuPct?: number;
  /** Server + client CPU time per completed call (µs); excludes any broker process (nats-server). */
  cpuUsPerCall?: number;
}

/** One cell: the client's closed loop against its server, with both processes' CPU over the cell. */
async function measureCell(
  system: RunningSystem,
  cell: Omit<RpcCell, 'system'>,
  options: BenchOptions,
): Promise<RpcCell> {
  const result: RpcCell = { system: system.name, ...cell };
  if (!system.client.alive || !system.server.alive) {
    result.error = 'process no longer running';
    return result;
  }
  const cpu = new CpuMeter(system.server.pid, system.client.pid);
  try {
    result.sample = await system.client.request<RpcSample>('rpc', {
      payloadBytes: cell.payloadBytes,
      concurrency: cell.concurrency,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
    });
  } catch (err) {
    result.error = (err as Error).message;
  }
  const used = cpu.read();
  if (used) {
    result.serverCpuPct = used.serverPct;
    result.clientCpuPct = used.clientPct;
    const completed = result.sample?.completedInCell ?? 0;
    if (completed > 0) result.cpuUsPerCall = (used.totalSeconds * 1e6) / completed;
  }
  return result;
}

/** Every cell of every round, systems rotated per cell, each printed as it ends (names padded to `nameWidth`). */
export async function measureAll(running: RunningSystem[], options: BenchOptions, nameWidth = 9): Promise<RpcCell[]> {
  const cells: RpcCell[] = [];
  let cellIndex = 0;
  for (let round = 1; round <= options.rounds; round++) {
    for (const payloadBytes of options.payloads) {
      for (const concurrency of options.concurrency) {
        for (const system of rotated(running, cellIndex++)) {
          const cell = await measureCell(system, { payloadBytes, concurrency, round }, options);
          const s = cell.sample;
          process.stderr.write(
            `  ${system.name.padEnd(nameWidth)} ${String(payloadBytes).padStart(5)} B  c=${String(concurrency).padEnd(4)} ` +
              (s ? `${formatCount(s.callsPerSec)} calls/s  p50 ${formatMicros(s.p50Us)} µs` : `error: ${cell.error}`) +
              '\n',
          );
          cells.push(cell);
        }
      }
    }
  }
  return cells;
}

/** The round with the highest throughput for each (system, payload, concurrency). */
export function bestRpcCells(cells: RpcCell[]): RpcCell[] {
  const best = new Map<string, RpcCell>();
  for (const cell of cells) {
    const key = `${cell.system}/${cell.payloadBytes}/${cell.concurrency}`;
    const current = best.get(key);
    const rate = cell.sample?.callsPerSec ?? -1;
    if (!current || rate > (current.sample?.callsPerSec ?? -1)) best.set(key, cell);
  }
  return [...best.values()];
}

function find(cells: RpcCell[], system: string, payloadBytes: number, concurrency: number): RpcSample | undefined {
  return cells.find((c) => c.system === system && c.payloadBytes === payloadBytes && c.concurrency === concurrency)
    ?.sample;
}

function printTables(cells: RpcCell[], options: BenchOptions, systems: string[]): void {
  for (const payloadBytes of options.payloads) {
    const rows: string[][] = [];
    for (const concurrency of options.concurrency) {
      const reference = find(cells, REFERENCE, payloadBytes, concurrency);
      for (const system of systems) {
        const cell = cells.find(
          (c) => c.system === system && c.payloadBytes === payloadBytes && c.concurrency === concurrency,
        );
        const s = cell?.sample;
        rows.push([
          `c=${concurrency} ${system}`,
          s ? formatCount(s.callsPerSec) : `error: ${cell?.error?.slice(0, 60) ?? 'not run'}`,
          formatMicros(s?.p50Us),
          formatMicros(s?.p99Us),
          s ? formatCount(s.errors) : '',
          cell?.serverCpuPct === undefined ? 'n/a' : cell.serverCpuPct.toFixed(0),
          cell?.clientCpuPct === undefined ? 'n/a' : cell.clientCpuPct.toFixed(0),
          cell?.cpuUsPerCall === undefined ? 'n/a' : cell.cpuUsPerCall.toFixed(1),
          formatRatio(reference && s ? reference.callsPerSec / s.callsPerSec : undefined),
          formatRatio(reference && s ? reference.p50Us / s.p50Us : undefined),
        ]);
      }
    }
    console.log(`\nRPC echo, ${payloadBytes}-byte payload (${options.durationMs / 1000} s measured per cell)`);
    console.log(
      formatTable(
        [
          'cell',
          'calls/s',
          'p50 µs',
          'p99 µs',
          'errors',
          'srv cpu%',
          'cli cpu%',
          'cpu µs/call',
          'parley÷sys calls/s',
          'parley÷sys p50',
        ],
        rows,
      ),
    );
  }
}

function cellOf(
  cells: RpcCell[],
  system: string,
  payloadBytes: number,
  concurrency: number,
  round?: number,
): RpcSample | undefined {
  return cells.find(
    (c) =>
      c.system === system &&
      c.payloadBytes === payloadBytes &&
      c.concurrency === concurrency &&
      (round === undefined || c.round === round),
  )?.sample;
}

/**
 * A ratio taken within each round (both systems measured back to back), summarised as the median with the spread:
 * '1.04× (0.98–1.12× over 3 rounds)'.
 */
export function perRound(
  _cells: RpcCell[],
  rounds: number,
  ratio: (round: number) => number | undefined,
): { median: number; text: string } | undefined {
  const values: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const value = ratio(round);
    if (value !== undefined && Number.isFinite(value)) values.push(value);
  }
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  const median = values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  const spread =
    values.length > 1 ? ` (${formatRatio(values[0])}–${formatRatio(values.at(-1))} over ${values.length} rounds)` : '';
  return { median, text: `${formatRatio(median)}${spread}` };
}

function throughputTarget(
  cells: RpcCell[],
  rounds: number,
  payloadBytes: number,
  peer: string,
  atLeast: number,
): TargetCheck {
  const target = `calls/s at c=100, ${payloadBytes} B: parley ≥ ${atLeast}× ${peer}`;
  const rate = (system: string, round: number) => cellOf(cells, system, payloadBytes, 100, round)?.callsPerSec;
  const ratio = (a: string, b: string) => (round: number) => {
    const x = rate(a, round);
    const y = rate(b, round);
    return x !== undefined && y !== undefined ? x / y : undefined;
  };
  const measured = perRound(cells, rounds, ratio(REFERENCE, peer));
  const ceiling = peer !== BARE ? (perRound(cells, rounds, ratio(BARE, peer))?.text ?? '') : '';
  if (!measured) return { target, measured: 'n/a', met: undefined, ceiling };
  return { target, measured: measured.text, met: measured.median >= atLeast, ceiling };
}

function latencyTarget(cells: RpcCell[], rounds: number, payloadBytes: number): TargetCheck {
  const target = `p50 at c=1, ${payloadBytes} B: parley ≤ ${P50_OVER_FLOOR_AT_MOST}× ping-pong floor`;
  const ratio = (system: string) => (round: number) => {
    const x = cellOf(cells, system, payloadBytes, 1, round)?.p50Us;
    const floor = cellOf(cells, FLOOR, payloadBytes, 1, round)?.p50Us;
    return x !== undefined && floor !== undefined ? x / floor : undefined;
  };
  const measured = perRound(cells, rounds, ratio(REFERENCE));
  const ceiling = perRound(cells, rounds, ratio(BARE))?.text ?? '';
  if (!measured) return { target, measured: 'n/a', met: undefined, ceiling };
  return { target, measured: measured.text, met: measured.median <= P50_OVER_FLOOR_AT_MOST, ceiling };
}

function targetChecks(cells: RpcCell[], options: BenchOptions, started: StartedSystems): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const payloadBytes of options.payloads) {
    checks.push(latencyTarget(cells, options.rounds, payloadBytes));
    checks.push(throughputTarget(cells, options.rounds, payloadBytes, BARE, OVER_BARE_AT_LEAST));
    checks.push(throughputTarget(cells, options.rounds, payloadBytes, 'moleculer', OVER_MOLECULER_AT_LEAST));
    checks.push(throughputTarget(cells, options.rounds, payloadBytes, 'grpc', OVER_GRPC_AT_LEAST));
  }
  const idle = started.running.find((s) => s.name === REFERENCE)?.idleServerRssBytes;
  checks.push({
    target: `idle Parley node RSS (start + 2 s) ≤ ${IDLE_RSS_TARGET_MB} MB`,
    measured: idle === undefined ? 'n/a' : `${(idle / 2 ** 20).toFixed(1)} MB`,
    met: idle === undefined ? undefined : idle / 2 ** 20 <= IDLE_RSS_TARGET_MB,
  });
  return checks;
}

/** Median over rounds of a c=1 p50. */
function medianP50(cells: RpcCell[], system: string, payloadBytes: number): number | undefined {
  const values = cells
    .filter((c) => c.system === system && c.payloadBytes === payloadBytes && c.concurrency === 1 && c.sample)
    .map((c) => c.sample!.p50Us)
    .sort((a, b) => a - b);
  if (values.length === 0) return undefined;
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/** One call's CPU budget by stage against the floor, and what the measured c=1 p50s leave unexplained. */
function printStageBudget(cells: RpcCell[], payloadBytes: number): StageCost[] {
  const stages = measureCallStages(makePayload(payloadBytes));
  const us = (v: number) => v.toFixed(2);
  const rows = stages.map((s) => [`${s.side}: ${s.stage}`, us(s.parleyUs), s.floorUs ? us(s.floorUs) : '—']);
  const parleyCpu = stages.reduce((sum, s) => sum + s.parleyUs, 0);
  const floorCpu = stages.reduce((sum, s) => sum + s.floorUs, 0);
  rows.push(['CPU of the stages, both sides', us(parleyCpu), us(floorCpu)]);
  const parleyP50 = medianP50(cells, REFERENCE, payloadBytes);
  const floorP50 = medianP50(cells, FLOOR, payloadBytes);
  if (parleyP50 !== undefined && floorP50 !== undefined) {
    const wire = floorP50 - floorCpu;
    rows.push(['write + loopback + wake-up (floor p50 − floor CPU)', us(wire), us(wire)]);
    rows.push(['p50 at c=1 (median over rounds)', us(parleyP50), us(floorP50)]);
    rows.push([
      'scheduling: p50 − stages − wire (flush hop, continuations)',
      us(parleyP50 - parleyCpu - wire),
      us(floorP50 - floorCpu - wire),
    ]);
  }
  console.log(
    `\nOne call's budget, ${payloadBytes} B, µs (stages: CPU per call of the real code, in this process, median of 5 × 20,000)`,
  );
  console.log(formatTable(['stage', 'parley µs', 'ping-pong µs'], rows));
  return stages;
}

export async function run(args: string[]): Promise<void> {
  const options = parseBenchOptions(args, {
    concurrency: [1, 100, 1000],
    payloads: [16, 1024],
    short: {
      concurrency: [1, 100],
      payloads: [16],
      systems: [REFERENCE, FLOOR, BARE, 'moleculer', 'grpc'],
    },
  });
  const cpuProfile = options.cpuProfileDir ? { dir: options.cpuProfileDir, systems: [REFERENCE] } : undefined;
  const started = await startSystems(options.systems, {
    ...(cpuProfile ? { cpuProfile } : {}),
    ...(options.pin ? { pin: { server: 1, client: 0 } } : {}),
  });
  printRunHeader('rpc', options, started);
  let cells: RpcCell[];
  try {
    cells = await measureAll(started.running, options);
  } finally {
    await stopSystems(started);
  }
  const best = bestRpcCells(cells);
  const systems = started.running.map((s) => s.name);
  printTables(best, options, systems);

  console.log('\nIdle server RSS (2 s after start, no client yet)');
  console.log(
    formatTable(
      ['system', 'RSS MB'],
      started.running.map((s) => [
        s.name,
        s.idleServerRssBytes === undefined ? 'n/a' : (s.idleServerRssBytes / 2 ** 20).toFixed(1),
      ]),
    ),
  );
  const checks = targetChecks(cells, options, started);
  console.log('\nTargets (ratios within each round; median, spread over rounds)');
  console.log(formatTargets(checks));
  const budgets: Record<number, StageCost[]> = {};
  for (const payloadBytes of options.payloads) budgets[payloadBytes] = printStageBudget(cells, payloadBytes);
  console.log(`\nload average at the end: ${formatLoad()}`);
  if (options.cpuProfileDir) printCpuProfileSummary(options.cpuProfileDir, REFERENCE);
  if (options.json) {
    const idleRssBytes = Object.fromEntries(started.running.map((s) => [s.name, s.idleServerRssBytes ?? null]));
    console.log(
      `\nJSON ${JSON.stringify({ benchmark: 'rpc', options, notes: started.notes, cells, idleRssBytes, targets: checks, budgets })}`,
    );
  }
}
