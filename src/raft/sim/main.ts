import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { UnsafeTestingHooks } from '../core/config.js';
import { replayCommand } from './replay-command.js';
import { runSimulation, type SimulationProfile } from './run-simulation.js';

/**
 * `npm run sim -- --seeds N [--steps S] [--seed X] [--nodes 3|5] [--workers W] [--verbose] [--mutation HOOK]`
 *
 * Runs seeds X, X+1, ..., X+N-1 (X defaults to 1; N to 1 when --seed is given, else 100) and
 * stops at the first violation, printing the command that replays it. --workers spreads the seeds
 * over worker threads (each seed still runs alone, so it replays the same). --mutation turns on an
 * unsafe testing hook of the core (commitEntriesFromPreviousTerms | skipVoteLogCheck) to show
 * that the simulator finds the bug it introduces.
 */
interface CliOptions {
  seeds: number;
  steps: number;
  seed: number;
  nodes: number | undefined;
  workers: number;
  verbose: boolean;
  mutation: keyof UnsafeTestingHooks | undefined;
}

/** What one seed's run reports back (plain data: it crosses worker threads). */
interface SeedOutcome {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure: string | null;
  readonly steps: number;
  readonly traceHash: string;
  readonly recentEvents: readonly string[];
  readonly profile: SimulationProfile;
  readonly stats: Record<string, number>;
}

const USAGE =
  'usage: npm run sim -- [--seeds N] [--steps S] [--seed X] [--nodes 3|5] [--workers W] [--verbose] [--mutation HOOK]';
const MUTATIONS: readonly string[] = ['commitEntriesFromPreviousTerms', 'skipVoteLogCheck'];

function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    seeds: 100,
    steps: 2000,
    seed: 1,
    nodes: undefined,
    workers: 1,
    verbose: false,
    mutation: undefined,
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
    if (a === '--seeds') {
      o.seeds = int(a, argv[++i], 1);
      seedsGiven = true;
    } else if (a === '--steps') o.steps = int(a, argv[++i], 1);
    else if (a === '--seed') {
      o.seed = int(a, argv[++i], 0);
      seedGiven = true;
    } else if (a === '--nodes') {
      o.nodes = int(a, argv[++i], 1);
      if (o.nodes !== 3 && o.nodes !== 5) fail('--nodes must be 3 or 5');
    } else if (a === '--workers') o.workers = int(a, argv[++i], 1);
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--mutation') {
      const m = argv[++i];
      if (m === undefined || !MUTATIONS.includes(m)) fail(`--mutation must be one of ${MUTATIONS.join(', ')}`);
      o.mutation = m as keyof UnsafeTestingHooks;
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  if (seedGiven && !seedsGiven) o.seeds = 1;
  return o;
}

function fail(msg: string): never {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
}

function runSeed(o: CliOptions, seed: number): SeedOutcome {
  const r = runSimulation({
    seed,
    steps: o.steps,
    ...(o.nodes !== undefined ? { nodes: o.nodes } : {}),
    ...(o.mutation ? { unsafeTestingHooks: { [o.mutation]: true } } : {}),
    traceKeep: o.verbose ? 400 : 200,
  });
  return {
    seed,
    ok: r.ok,
    failure: r.violation?.message ?? null,
    steps: r.steps,
    traceHash: r.traceHash,
    // The recent events only matter for a failure or --verbose: do not ship them otherwise.
    recentEvents: r.ok && !o.verbose ? [] : r.recentEvents,
    profile: r.profile,
    stats: r.stats,
  };
}

/** Runs the seeds on `workers` threads; calls `onOutcome` in completion order; stops handing out seeds after a failure. */
async function runSeeds(o: CliOptions, onOutcome: (r: SeedOutcome) => void): Promise<void> {
  const last = o.seed + o.seeds - 1;
  let next = o.seed;
  let failed = false;
  if (o.workers === 1) {
    for (; next <= last && !failed; next++) {
      const r = runSeed(o, next);
      failed = !r.ok;
      onOutcome(r);
    }
    return;
  }
  const url = new URL(import.meta.url);
  await Promise.all(
    Array.from({ length: Math.min(o.workers, o.seeds) }, () => {
      const w = new Worker(url, { workerData: o });
      return new Promise<void>((resolve, reject) => {
        const feed = (): void => {
          if (failed || next > last) {
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

function printOutcome(r: SeedOutcome, verbose: boolean): void {
  if (verbose || !r.ok) {
    if (verbose) console.log(`seed ${r.seed}: profile ${JSON.stringify(r.profile)}`);
    console.log(`--- last ${r.recentEvents.length} events of seed ${r.seed} ---`);
    for (const line of r.recentEvents) console.log(line);
    console.log('---');
  }
  if (verbose) {
    console.log(`seed ${r.seed}: ${r.steps} steps, trace hash ${r.traceHash}, stats ${JSON.stringify(r.stats)}`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  let lastProgress = started;
  const totals: Record<string, number> = {};
  let steps = 0;
  let done = 0;
  const failures: SeedOutcome[] = [];
  await runSeeds(o, (r) => {
    done++;
    steps += r.steps;
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (!r.ok) failures.push(r);
    else printOutcome(r, o.verbose);
    const now = Date.now();
    if (now - lastProgress >= 3000) {
      lastProgress = now;
      const secs = (now - started) / 1000;
      console.log(`${done}/${o.seeds} seeds done, ${(done / secs).toFixed(1)} seeds/s, ${secs.toFixed(0)} s`);
    }
  });
  const secs = Math.max((Date.now() - started) / 1000, 0.001);
  console.log('\n| metric | value |\n|---|---|');
  const row = (k: string, v: string | number): void => console.log(`| ${k} | ${v} |`);
  row('seeds run', done);
  row('first seed', o.seed);
  row('steps per seed (before liveness)', o.steps);
  row('workers', o.workers);
  row('total steps', steps);
  row('wall time (s)', secs.toFixed(1));
  row('seeds/s', (done / secs).toFixed(2));
  row('steps/s', Math.round(steps / secs));
  for (const [k, v] of Object.entries(totals)) row(k, v);
  row('result', failures.length > 0 ? 'FAILED' : 'all invariants held');
  if (failures.length > 0) {
    // With several workers more than one seed may have failed: report the lowest.
    const first = failures.sort((a, b) => a.seed - b.seed)[0]!;
    console.log('');
    printOutcome(first, o.verbose);
    console.log(`FAILED seed ${first.seed} after ${first.steps} steps: ${first.failure}`);
    console.log(`replay: ${replayCommand(first.seed, o.steps, o.nodes, o.mutation)}`);
    process.exitCode = 1;
  }
}

if (isMainThread) {
  void main();
} else {
  const o = workerData as CliOptions;
  parentPort!.on('message', (seed: number) => parentPort!.postMessage(runSeed(o, seed)));
}
