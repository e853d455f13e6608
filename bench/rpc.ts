/**
 * RPC benchmark: request/response echo, each system's server and client in separate OS processes on loopback.
 *
 *   npm run bench -- rpc [--duration 3] [--warmup 1] [--systems parley,bare,moleculer,nats,grpc]
 *                        [--concurrency 1,100,1000] [--payload 16,1024] [--rounds 1] [--json] [--cpu-prof DIR]
 *
 * Every cell (payload × concurrency) runs all systems back to back, in a rotated order, so the comparison within a
 * cell is taken under the same machine load. Ratios are Parley ÷ system from the same run. Also reports each
 * server's idle RSS (2 s after start, before any client connected).
 */

import { type BenchOptions, parseBenchOptions } from './harness/bench-options.js';
import type { RpcSample } from './harness/closed-loop.js';
import { CpuMeter } from './harness/cpu-meter.js';
import { printCpuProfileSummary } from './harness/cpu-profile-summary.js';
import { printRunHeader } from './harness/run-header.js';
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
const IDLE_RSS_TARGET_MB = 60;

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

async function measureAll(started: StartedSystems, options: BenchOptions): Promise<RpcCell[]> {
  const cells: RpcCell[] = [];
  let cellIndex = 0;
  for (let round = 1; round <= options.rounds; round++) {
    for (const payloadBytes of options.payloads) {
      for (const concurrency of options.concurrency) {
        for (const system of rotated(started.running, cellIndex++)) {
          const cell = await measureCell(system, { payloadBytes, concurrency, round }, options);
          const s = cell.sample;
          process.stderr.write(
            `  ${system.name.padEnd(9)} ${String(payloadBytes).padStart(5)} B  c=${String(concurrency).padEnd(4)} ` +
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

function throughputTarget(cells: RpcCell[], payloadBytes: number, peer: string, atLeast: number): TargetCheck {
  const parley = find(cells, REFERENCE, payloadBytes, 100);
  const other = find(cells, peer, payloadBytes, 100);
  const target = `calls/s at c=100, ${payloadBytes} B: parley ≥ ${atLeast}× ${peer}`;
  const bare = find(cells, 'bare', payloadBytes, 100);
  const ceiling = bare && other && peer !== 'bare' ? formatRatio(bare.callsPerSec / other.callsPerSec) : '';
  if (!parley || !other) return { target, measured: 'n/a', met: undefined, ceiling };
  const ratio = parley.callsPerSec / other.callsPerSec;
  return {
    target,
    measured: `${formatRatio(ratio)} (${formatCount(parley.callsPerSec)} / ${formatCount(other.callsPerSec)})`,
    met: ratio >= atLeast,
    ceiling,
  };
}

function targetChecks(cells: RpcCell[], options: BenchOptions, started: StartedSystems): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const payloadBytes of options.payloads) {
    checks.push(throughputTarget(cells, payloadBytes, 'bare', 0.75));
    checks.push(throughputTarget(cells, payloadBytes, 'moleculer', 4));
    checks.push(throughputTarget(cells, payloadBytes, 'grpc', 25));
    const parley = find(cells, REFERENCE, payloadBytes, 1);
    const moleculer = find(cells, 'moleculer', payloadBytes, 1);
    const bare = find(cells, 'bare', payloadBytes, 1);
    const target = `p50 at c=1, ${payloadBytes} B: parley ≤ 0.5× moleculer`;
    const ceiling = bare && moleculer ? formatRatio(bare.p50Us / moleculer.p50Us) : '';
    if (!parley || !moleculer) checks.push({ target, measured: 'n/a', met: undefined, ceiling });
    else {
      const ratio = parley.p50Us / moleculer.p50Us;
      checks.push({
        target,
        measured: `${formatRatio(ratio)} (${formatMicros(parley.p50Us)} µs / ${formatMicros(moleculer.p50Us)} µs)`,
        met: ratio <= 0.5,
        ceiling,
      });
    }
  }
  const idle = started.running.find((s) => s.name === REFERENCE)?.idleServerRssBytes;
  checks.push({
    target: `idle Parley node RSS (start + 2 s) ≤ ${IDLE_RSS_TARGET_MB} MB`,
    measured: idle === undefined ? 'n/a' : `${(idle / 2 ** 20).toFixed(1)} MB`,
    met: idle === undefined ? undefined : idle / 2 ** 20 <= IDLE_RSS_TARGET_MB,
  });
  return checks;
}

export async function run(args: string[]): Promise<void> {
  const options = parseBenchOptions(args, { concurrency: [1, 100, 1000], payloads: [16, 1024] });
  const cpuProfile = options.cpuProfileDir ? { dir: options.cpuProfileDir, systems: [REFERENCE] } : undefined;
  const started = await startSystems(options.systems, {
    ...(cpuProfile ? { cpuProfile } : {}),
    ...(options.pin ? { pin: { server: 1, client: 0 } } : {}),
  });
  printRunHeader('rpc', options, started);
  let cells: RpcCell[];
  try {
    cells = await measureAll(started, options);
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
  const checks = targetChecks(best, options, started);
  console.log('\nTargets (ratios from this run)');
  console.log(formatTargets(checks));
  if (options.cpuProfileDir) printCpuProfileSummary(options.cpuProfileDir, REFERENCE);
  if (options.json) {
    const idleRssBytes = Object.fromEntries(started.running.map((s) => [s.name, s.idleServerRssBytes ?? null]));
    console.log(
      `\nJSON ${JSON.stringify({ benchmark: 'rpc', options, notes: started.notes, cells, idleRssBytes, targets: checks })}`,
    );
  }
}
