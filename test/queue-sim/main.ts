import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { describeRecord } from '../../src/queue/sim/history.js';
import { partitionReplica } from '../../src/queue/sim/partition-replica.js';
import { PLANTED_BUGS, type PlantedBug } from '../../src/queue/sim/planted-bugs.js';
import { describeViolation } from '../../src/queue/sim/queue-checker.js';
import { queueReplayCommand } from '../../src/queue/sim/queue-replay-command.js';
import { runQueueSimulation } from '../../src/queue/sim/run-queue-simulation.js';

/**
 * `npm run sim -- --queues [--seeds N | --time SECONDS] [--steps S] [--seed X] [--nodes 3|5]
 *  [--workers W] [--bug NAME] [--verbose]`
 *
 * Runs simulated queue runs for seeds X, X+1, ... (N of them, or as many as fit in SECONDS) and
 * stops at the first seed whose history the checker rejects, printing the violations with their
 * evidence and the command that replays that seed exactly. --bug plants one of the bugs of
 * planted-bugs.ts (the run must then fail). --workers spreads seeds over worker threads.
 */
interface CliOptions {
  seeds: number;
  timeSeconds: number;
  steps: number;
  seed: number;
  nodes: number | undefined;
  workers: number;
  verbose: boolean;
  bug: PlantedBug | undefined;
}

interface SeedOutcome {
  readonly seed: number;
  readonly ok: boolean;
  readonly report: string;
  readonly steps: number;
  readonly traceHash: string;
  readonly stats: Record<string, number>;
}

const USAGE =
  'usage: npm run sim -- --queues [--seeds N | --time SECONDS] [--steps S] [--seed X] [--nodes 3|5] [--workers W] [--bug NAME] [--verbose]';

function fail(msg: string): never {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    seeds: 20,
    timeSeconds: 0,
    steps: 2000,
    seed: 1,
    nodes: undefined,
    workers: 1,
    verbose: false,
    bug: undefined,
  };
  let seedsGiven = false;
  let seedGiven = false;
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--queues') continue;
    if (a === '--seeds') {
      o.seeds = int(a, argv[++i], 1);
      seedsGiven = true;
    } else if (a === '--time') o.timeSeconds = int(a, argv[++i], 1);
    else if (a === '--steps') o.steps = int(a, argv[++i], 1);
    else if (a === '--seed') {
      o.seed = int(a, argv[++i], 0);
      seedGiven = true;
    } else if (a === '--nodes') {
      o.nodes = int(a, argv[++i], 1);
      if (o.nodes !== 3 && o.nodes !== 5) fail('--nodes must be 3 or 5');
    } else if (a === '--workers') o.workers = int(a, argv[++i], 1);
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--bug') {
      const b = argv[++i];
      if (b === undefined || !(PLANTED_BUGS as readonly string[]).includes(b)) {
        fail(`--bug must be one of ${PLANTED_BUGS.join(', ')}`);
      }
      o.bug = b as PlantedBug;
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  if (o.timeSeconds > 0 && !seedsGiven) o.seeds = Number.MAX_SAFE_INTEGER;
  else if (seedGiven && !seedsGiven) o.seeds = 1;
  return o;
}

function runSeed(o: CliOptions, seed: number): SeedOutcome {
  const r = runQueueSimulation({
    seed,
    steps: o.steps,
    replica: partitionReplica,
    ...(o.nodes === undefined ? {} : { nodes: o.nodes }),
    ...(o.bug === undefined ? {} : { bug: o.bug }),
    traceKeep: o.verbose ? 400 : 100,
  });
  const lines: string[] = [];
  if (o.verbose) {
    lines.push(`seed ${seed}: profile ${JSON.stringify(r.profile)}`);
    if (!r.ok) {
      lines.push(`--- last raft events ---`, ...r.recentEvents, '--- last 60 history records ---');
      lines.push(...r.history.records.slice(-60).map(describeRecord));
    }
  }
  for (const v of r.violations.slice(0, 10)) lines.push(describeViolation(v));
  return { seed, ok: r.ok, report: lines.join('\n'), steps: r.steps, traceHash: r.traceHash, stats: r.stats };
}

async function runSeeds(o: CliOptions, deadline: number, onOutcome: (r: SeedOutcome) => void): Promise<void> {
  const last = o.seed + o.seeds - 1;
  let next = o.seed;
  let failed = false;
  const more = (): boolean => !failed && next <= last && Date.now() < deadline;
  if (o.workers === 1) {
    while (more()) {
      const r = runSeed(o, next++);
      failed = !r.ok;
      onOutcome(r);
    }
    return;
  }
  const url = new URL(import.meta.url);
  await Promise.all(
    Array.from({ length: Math.min(o.workers, o.seeds) }, () => {
      const w = new Worker(url, { workerData: o, argv: ['--queues'] });
      return new Promise<void>((resolve, reject) => {
        const feed = (): void => {
          if (!more()) {
            void w.terminate().then(() => resolve());
            return;
          }
          w.postMessage(next++);
        };
        w.on('message', (r: SeedOutcome) => {
          if (!r.ok) failed = true;
          onOutcome(r);
          feed();
        });
        w.on('error', reject);
        feed();
      });
    }),
  );
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const deadline = o.timeSeconds > 0 ? started + o.timeSeconds * 1000 : Number.POSITIVE_INFINITY;
  let lastProgress = started;
  const totals: Record<string, number> = {};
  let steps = 0;
  let done = 0;
  const failures: SeedOutcome[] = [];
  await runSeeds(o, deadline, (r) => {
    done++;
    steps += r.steps;
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (!r.ok) failures.push(r);
    else if (o.verbose)
      console.log(
        `${r.report}\nseed ${r.seed}: ${r.steps} steps, trace hash ${r.traceHash}, stats ${JSON.stringify(r.stats)}`,
      );
    const now = Date.now();
    if (now - lastProgress >= 5000) {
      lastProgress = now;
      console.log(`${done} seeds done, ${((now - started) / 1000).toFixed(0)} s`);
    }
  });
  const secs = Math.max((Date.now() - started) / 1000, 0.001);
  console.log('\n| metric | value |\n|---|---|');
  const row = (k: string, v: string | number): void => console.log(`| ${k} | ${v} |`);
  row('seeds run', done);
  row('first seed', o.seed);
  row('steps per seed (before the drain)', o.steps);
  row('planted bug', o.bug ?? 'none');
  row('workers', o.workers);
  row('total steps', steps);
  row('wall time (s)', secs.toFixed(1));
  row('seeds/s', (done / secs).toFixed(2));
  for (const [k, v] of Object.entries(totals)) row(k, v);
  row('result', failures.length > 0 ? 'FAILED' : 'every queue property held');
  if (failures.length > 0) {
    const first = failures.sort((a, b) => a.seed - b.seed)[0]!;
    console.log(`\n${first.report}`);
    console.log(`FAILED seed ${first.seed} after ${first.steps} steps`);
    console.log(`replay: ${queueReplayCommand(first.seed, o.steps, o.nodes, o.bug)}`);
    process.exitCode = 1;
  }
}

if (isMainThread) {
  void main();
} else {
  const o = workerData as CliOptions;
  parentPort!.on('message', (seed: number) => parentPort!.postMessage(runSeed(o, seed)));
}
