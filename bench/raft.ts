/**
 * `npm run bench -- raft [options]`: the 3-member raft cluster benchmark (see raft-cluster.ts for the variants).
 *
 *   --proposers 1,16,256      concurrent closed-loop proposers (default 1,16,256)
 *   --payload 128             proposal payload bytes (default 128; the driver's envelope adds 12 bytes per entry)
 *   --duration 3 --warmup 1   seconds measured / warm-up per cell
 *   --variants leader,follower,in-process   which variants (default: all)
 *   --max-inflight N --max-size-per-msg N --tick-ms N   raft tuning (defaults in raft-bench-member.ts)
 *   --no-batch                one propose() per proposal instead of one MsgProp per Ready's worth (driver option)
 *   --cpu-prof DIR            V8 CPU profiles of the member processes into DIR, summarised at the end
 *   --wal                     also measure WalStorage.save() alone (group commit of 1, 16, 256 entries), in the
 *                             clear and with encryption at rest (AES-256-GCM)
 *   --wal-only                only that (no cluster)
 *   --transport pipe|node     member processes talk over bare msgpackr pipes (default) or Parley nodes ($raft.step)
 *   --rounds N                run every cell N times back to back and report the best round (default 1)
 *   --quick                   0.5 s warm-up, 1.5 s measured
 */
import { availableParallelism } from 'node:os';
import { printCpuProfileSummary } from './harness/cpu-profile-summary.js';
import { formatCount, formatTable } from './harness/table.js';
import { formatTargets, type TargetCheck } from './harness/targets.js';
import {
  type ClusterBenchOptions,
  type ClusterCell,
  DEFAULT_TUNING,
  entriesPerFsync,
  RAFT_VARIANTS,
  type RaftVariant,
  runClusterBench,
} from './raft-cluster.js';
import { benchWalSaves } from './raft-wal-bench.js';

const TARGET_PER_SEC = 20_000;
const TARGET_P99_MS = 50;

function positiveList(value: string, flag: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n <= 0)) {
    throw new Error(`${flag} expects comma-separated positive numbers, got '${value}'`);
  }
  return list;
}

function parseOptions(args: string[]): ClusterBenchOptions & { wal: boolean; walOnly: boolean } {
  const o: ClusterBenchOptions & { wal: boolean; walOnly: boolean } = {
    proposers: [1, 16, 256],
    payloadBytes: 128,
    warmupMs: 1000,
    durationMs: 3000,
    variants: [...RAFT_VARIANTS],
    tuning: { ...DEFAULT_TUNING },
    cpuProfileDir: undefined,
    rounds: 1,
    transport: 'pipe',
    wal: false,
    walOnly: false,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const one = () => positiveList(value(), flag)[0]!;
    switch (flag) {
      case '--proposers':
        o.proposers = positiveList(value(), flag);
        break;
      case '--payload':
        o.payloadBytes = one();
        break;
      case '--duration':
        o.durationMs = one() * 1000;
        break;
      case '--warmup':
        o.warmupMs = Number(value()) * 1000;
        break;
      case '--quick':
        o.warmupMs = 500;
        o.durationMs = 1500;
        break;
      case '--variants': {
        const variants = value().split(',');
        const unknown = variants.filter((v) => !(RAFT_VARIANTS as readonly string[]).includes(v));
        if (unknown.length > 0) throw new Error(`unknown variant(s) ${unknown.join(', ')}; known: ${RAFT_VARIANTS}`);
        o.variants = variants as RaftVariant[];
        break;
      }
      case '--max-inflight':
        o.tuning = { ...o.tuning, maxInflightMsgs: one() };
        break;
      case '--max-size-per-msg':
        o.tuning = { ...o.tuning, maxSizePerMsg: one() };
        break;
      case '--tick-ms':
        o.tuning = { ...o.tuning, tickMs: one() };
        break;
      case '--no-batch':
        o.tuning = { ...o.tuning, batchProposals: false };
        break;
      case '--cpu-prof':
        o.cpuProfileDir = value();
        break;
      case '--transport': {
        const t = value();
        if (t !== 'pipe' && t !== 'node') throw new Error(`--transport is pipe or node, got '${t}'`);
        o.transport = t;
        break;
      }
      case '--rounds':
        o.rounds = one();
        break;
      case '--wal':
        o.wal = true;
        break;
      case '--wal-only':
        o.wal = true;
        o.walOnly = true;
        break;
      default:
        throw new Error(`unknown option '${flag}'`);
    }
  }
  return o;
}

const ms = (us: number | undefined) => (us === undefined || !Number.isFinite(us) ? 'n/a' : (us / 1000).toFixed(2));

function printCells(cells: ClusterCell[], o: ClusterBenchOptions): void {
  console.log(
    `\n3-member raft cluster, ${o.payloadBytes}-byte proposals, fdatasync on, ${o.durationMs / 1000} s measured per cell`,
  );
  console.log(
    formatTable(
      [
        'variant',
        'proposers',
        'committed/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'entries/fsync',
        'fsyncs/s',
        'cpu % a/b/c',
        'all rounds /s',
      ],
      cells.map((c) => {
        const s = c.result?.sample;
        const saves = c.result?.saves;
        return [
          c.variant === 'in-process' ? c.variant : `${c.variant} (${o.transport})`,
          String(c.proposers),
          s ? formatCount(s.callsPerSec) : 'failed',
          ms(s?.p50Us),
          ms(s?.p99Us),
          s ? String(s.errors) : '',
          saves ? entriesPerFsync(saves).toFixed(1) : '',
          saves ? formatCount(saves.savesWithEntries / ((o.warmupMs + o.durationMs) / 1000)) : '',
          c.cpuPct ? c.cpuPct.map((p) => p.toFixed(0)).join('/') : '',
          c.roundRates && c.roundRates.length > 1 ? c.roundRates.map((r) => formatCount(r)).join(' / ') : '',
        ];
      }),
    ),
  );
  for (const c of cells.filter((cell) => cell.error !== undefined)) {
    console.log(`${c.variant} proposers=${c.proposers} failed: ${c.error!.split('\n').slice(0, 8).join(' | ')}`);
  }
  console.log(
    "entries/fsync and fsyncs/s: the proposing member's WAL saves that carried entries, warm-up included; cpu: each " +
      'member process over the cell (in-process: the one process)',
  );
}

function targetChecks(cells: ClusterCell[], proposers: number, transport: string): TargetCheck[] {
  const cell = cells.find((c) => c.variant === 'leader' && c.proposers === proposers);
  const s = cell?.result?.sample;
  return [
    {
      target: `committed entries/s, ${proposers} proposers, 3 processes (${transport}): ≥ ${formatCount(TARGET_PER_SEC)}`,
      measured: s ? `${formatCount(s.callsPerSec)}/s` : 'n/a',
      met: s ? s.callsPerSec >= TARGET_PER_SEC : undefined,
    },
    {
      target: `commit p99, ${proposers} proposers, 3 processes (${transport}): < ${TARGET_P99_MS} ms`,
      measured: s ? `${ms(s.p99Us)} ms` : 'n/a',
      met: s ? s.p99Us / 1000 < TARGET_P99_MS : undefined,
    },
  ];
}

export async function run(args: string[]): Promise<void> {
  const o = parseOptions(args);
  console.log(`raft benchmark — ${new Date().toISOString()}`);
  console.log(`machine: ${availableParallelism()} cpus; node ${process.version}; processes not pinned`);
  console.log(`command: npm run bench -- raft ${args.join(' ')}`.trimEnd());
  console.log(
    `tuning: ${JSON.stringify(o.tuning)}; warm-up ${o.warmupMs / 1000} s + ${o.durationMs / 1000} s; ` +
      `rounds ${o.rounds}${o.rounds > 1 ? ' (best shown)' : ''}`,
  );
  if (!o.walOnly) {
    const cells = await runClusterBench(o, (line) => console.log(line));
    printCells(cells, o);
    if (o.proposers.includes(256)) {
      console.log('');
      console.log(formatTargets(targetChecks(cells, 256, o.transport)));
    }
    if (o.cpuProfileDir) printCpuProfileSummary(o.cpuProfileDir, 'raft-member');
  }
  if (o.wal) {
    const seconds = o.durationMs / 1000;
    console.log(`\nWAL save() alone with fdatasync, 128-byte entries, ${seconds} s per row (one save = one Ready)`);
    console.log(
      formatTable(
        ['at rest', 'entries/save', 'saves', 'entries/s', 'MB/s', 'save p50 ms', 'save p99 ms'],
        [1, 16, 256]
          .flatMap((batch) => [false, true].map((encrypted) => ({ batch, encrypted })))
          .map(({ batch, encrypted }) => {
            const r = benchWalSaves(batch, seconds * 1000, 128, encrypted);
            return [
              encrypted ? 'AES-256-GCM' : 'clear',
              String(batch),
              String(r.saves),
              formatCount(r.entriesPerSec),
              r.mbPerSec.toFixed(2),
              r.p50Ms.toFixed(3),
              r.p99Ms.toFixed(3),
            ];
          }),
      ),
    );
  }
}
