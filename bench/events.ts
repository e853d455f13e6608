/**
 * Events benchmark: one-way events from a client process to a server process on loopback, counted at the receiver.
 *
 *   npm run bench -- events [--duration 3] [--warmup 1] [--systems parley,bare,moleculer,nats,grpc]
 *                           [--payload 16] [--rounds 1] [--json] [--cpu-prof DIR]
 *
 * Per cell the server counts deliveries in [warm-up, warm-up + duration] while the client floods for that long
 * plus a short tail, as fast as each system's backpressure allows (harness/event-flood.ts). After the cell the
 * server drains; "lost" compares everything delivered in the cell with everything sent. Parley `emit`,
 * Moleculer `broker.emit`, NATS publish/subscribe, bare one-way frames; grpc-js has no one-way message, so its
 * "event" is a unary call with an empty reply (shown for completeness).
 */

import { type BenchOptions, parseBenchOptions } from './harness/bench-options.js';
import { CpuMeter } from './harness/cpu-meter.js';
import { printCpuProfileSummary } from './harness/cpu-profile-summary.js';
import type { FloodSample } from './harness/event-flood.js';
import { printRunHeader } from './harness/run-header.js';
import {
  type RunningSystem,
  rotated,
  type StartedSystems,
  startSystems,
  stopSystems,
} from './harness/system-processes.js';
import { formatCount, formatRatio, formatTable } from './harness/table.js';
import { formatTargets, type TargetCheck } from './harness/targets.js';
import { RPC_ONLY_SYSTEMS, SYSTEM_NAMES } from './peers/registry.js';

const REFERENCE = 'parley';
const TARGET_EVENTS_PER_SEC = 250_000;
/** The sender keeps going a little past the receiver's window, so the window never sees the sender's stop. */
const SENDER_TAIL_MS = 300;

interface CountResult {
  base: number;
  delivered: number;
  seconds: number;
  eventsPerSec: number;
}

export interface EventCell {
  system: string;
  payloadBytes: number;
  round: number;
  deliveredPerSec?: number;
  sentPerSec?: number;
  /** Fraction of the cell's sent events never delivered (after draining). */
  lost?: number;
  error?: string;
  serverCpuPct?: number;
  clientCpuPct?: number;
  /** Server + client CPU time per delivered event (µs); excludes any broker process (nats-server). */
  cpuUsPerEvent?: number;
}

async function measureCell(system: RunningSystem, payloadBytes: number, round: number, options: BenchOptions) {
  const cell: EventCell = { system: system.name, payloadBytes, round };
  if (!system.client.alive || !system.server.alive) {
    cell.error = 'process no longer running';
    return cell;
  }
  const cpu = new CpuMeter(system.server.pid, system.client.pid);
  let deliveredInCell = 0;
  try {
    const counting = system.server.request<CountResult>('count', {
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
    });
    const flooding = system.client.request<FloodSample>('flood', {
      payloadBytes,
      durationMs: options.warmupMs + options.durationMs + SENDER_TAIL_MS,
    });
    const [count, flood] = await Promise.all([counting, flooding]);
    const drained = await system.server.request<{ total: number; quiet: boolean }>('drain', {});
    cell.deliveredPerSec = count.eventsPerSec;
    cell.sentPerSec = flood.sent / flood.seconds;
    deliveredInCell = drained.total - count.base;
    cell.lost = flood.sent > 0 ? Math.max(0, 1 - (drained.total - count.base) / flood.sent) : undefined;
    if (flood.errors > 0) cell.error = `${flood.errors} send errors, first: ${flood.firstError}`;
  } catch (err) {
    cell.error = (err as Error).message;
  }
  const used = cpu.read();
  if (used) {
    cell.serverCpuPct = used.serverPct;
    cell.clientCpuPct = used.clientPct;
    if (deliveredInCell > 0) cell.cpuUsPerEvent = (used.totalSeconds * 1e6) / deliveredInCell;
  }
  return cell;
}

async function measureAll(started: StartedSystems, options: BenchOptions): Promise<EventCell[]> {
  const cells: EventCell[] = [];
  let cellIndex = 0;
  for (let round = 1; round <= options.rounds; round++) {
    for (const payloadBytes of options.payloads) {
      for (const system of rotated(started.running, cellIndex++)) {
        const cell = await measureCell(system, payloadBytes, round, options);
        process.stderr.write(
          `  ${system.name.padEnd(9)} ${String(payloadBytes).padStart(5)} B  ` +
            `${formatCount(cell.deliveredPerSec)} delivered/s  ${formatCount(cell.sentPerSec)} sent/s` +
            (cell.error ? `  error: ${cell.error}` : '') +
            '\n',
        );
        cells.push(cell);
      }
    }
  }
  return cells;
}

function bestCells(cells: EventCell[]): EventCell[] {
  const best = new Map<string, EventCell>();
  for (const cell of cells) {
    const key = `${cell.system}/${cell.payloadBytes}`;
    const current = best.get(key);
    if (!current || (cell.deliveredPerSec ?? -1) > (current.deliveredPerSec ?? -1)) best.set(key, cell);
  }
  return [...best.values()];
}

function printTables(cells: EventCell[], options: BenchOptions, systems: string[]): void {
  for (const payloadBytes of options.payloads) {
    const reference = cells.find((c) => c.system === REFERENCE && c.payloadBytes === payloadBytes);
    const rows = systems.map((system) => {
      const cell = cells.find((c) => c.system === system && c.payloadBytes === payloadBytes);
      return [
        system,
        formatCount(cell?.deliveredPerSec),
        formatCount(cell?.sentPerSec),
        cell?.lost === undefined ? 'n/a' : `${(cell.lost * 100).toFixed(1)}%`,
        cell?.serverCpuPct === undefined ? 'n/a' : cell.serverCpuPct.toFixed(0),
        cell?.clientCpuPct === undefined ? 'n/a' : cell.clientCpuPct.toFixed(0),
        cell?.cpuUsPerEvent === undefined ? 'n/a' : cell.cpuUsPerEvent.toFixed(2),
        formatRatio(
          reference?.deliveredPerSec && cell?.deliveredPerSec
            ? reference.deliveredPerSec / cell.deliveredPerSec
            : undefined,
        ),
        cell?.error?.slice(0, 60) ?? '',
      ];
    });
    console.log(
      `\nEvents, ${payloadBytes}-byte payload, delivered at the receiver (${options.durationMs / 1000} s window)`,
    );
    console.log(
      formatTable(
        ['system', 'delivered/s', 'sent/s', 'lost', 'srv cpu%', 'cli cpu%', 'cpu µs/event', 'parley÷sys', 'note'],
        rows,
      ),
    );
  }
}

function targetChecks(cells: EventCell[]): TargetCheck[] {
  const parley = cells.find((c) => c.system === REFERENCE && c.payloadBytes === 16);
  const rate = parley?.deliveredPerSec;
  return [
    {
      target: `Parley emit, 16 B: ≥ ${formatCount(TARGET_EVENTS_PER_SEC)} events/s delivered`,
      measured: rate === undefined ? 'n/a' : `${formatCount(rate)} events/s`,
      met: rate === undefined ? undefined : rate >= TARGET_EVENTS_PER_SEC,
    },
  ];
}

export async function run(args: string[]): Promise<void> {
  const options = parseBenchOptions(args, {
    concurrency: [1],
    payloads: [16],
    systems: SYSTEM_NAMES.filter((name) => !RPC_ONLY_SYSTEMS.includes(name)),
    short: { systems: ['parley', 'bare', 'moleculer'] },
  });
  const cpuProfile = options.cpuProfileDir ? { dir: options.cpuProfileDir, systems: [REFERENCE] } : undefined;
  const started = await startSystems(options.systems, {
    ...(cpuProfile ? { cpuProfile } : {}),
    ...(options.pin ? { pin: { server: 1, client: 0 } } : {}),
  });
  printRunHeader('events', options, started);
  let cells: EventCell[];
  try {
    cells = await measureAll(started, options);
  } finally {
    await stopSystems(started);
  }
  const best = bestCells(cells);
  printTables(
    best,
    options,
    started.running.map((s) => s.name),
  );
  const checks = targetChecks(best);
  console.log('\nTargets');
  console.log(formatTargets(checks));
  if (options.cpuProfileDir) printCpuProfileSummary(options.cpuProfileDir, REFERENCE);
  if (options.json) {
    console.log(
      `\nJSON ${JSON.stringify({ benchmark: 'events', options, notes: started.notes, cells, targets: checks })}`,
    );
  }
}
