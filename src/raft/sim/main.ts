import type { UnsafeTestingHooks } from '../core/config.js';
import { replayCommand } from './replay-command.js';
import { runSimulation, type SimulationResult } from './run-simulation.js';

/**
 * `npm run sim -- --seeds N [--steps S] [--seed X] [--nodes 3|5] [--verbose] [--mutation HOOK]`
 *
 * Runs seeds X, X+1, ..., X+N-1 (X defaults to 1; N to 1 when --seed is given, else 100) and
 * stops at the first violation, printing the command that replays it. --mutation turns on an
 * unsafe testing hook of the core (commitEntriesFromPreviousTerms | skipVoteLogCheck) to show
 * that the simulator finds the bug it introduces.
 */
interface CliOptions {
  seeds: number;
  steps: number;
  seed: number;
  nodes: number | undefined;
  verbose: boolean;
  mutation: keyof UnsafeTestingHooks | undefined;
}

const USAGE = 'usage: npm run sim -- [--seeds N] [--steps S] [--seed X] [--nodes 3|5] [--verbose] [--mutation HOOK]';
const MUTATIONS: readonly string[] = ['commitEntriesFromPreviousTerms', 'skipVoteLogCheck'];

function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = { seeds: 100, steps: 2000, seed: 1, nodes: undefined, verbose: false, mutation: undefined };
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
    } else if (a === '--verbose') o.verbose = true;
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

function printResult(r: SimulationResult, verbose: boolean): void {
  if (verbose) {
    console.log(`seed ${r.seed}: profile ${JSON.stringify(r.profile)}`);
    console.log(`--- last ${r.recentEvents.length} events ---`);
    for (const line of r.recentEvents) console.log(line);
    console.log('---');
    console.log(`seed ${r.seed}: ${r.steps} steps, trace hash ${r.traceHash}, stats ${JSON.stringify(r.stats)}`);
  }
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const hooks = o.mutation ? { [o.mutation]: true } : undefined;
  const started = Date.now();
  let lastProgress = started;
  const totals: Record<string, number> = {};
  let steps = 0;
  let done = 0;
  for (let seed = o.seed; seed < o.seed + o.seeds; seed++) {
    const r = runSimulation({
      seed,
      steps: o.steps,
      ...(o.nodes !== undefined ? { nodes: o.nodes } : {}),
      ...(hooks ? { unsafeTestingHooks: hooks } : {}),
      traceKeep: o.verbose ? 400 : 200,
    });
    done++;
    steps += r.steps;
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    printResult(r, o.verbose);
    if (!r.ok) {
      if (!o.verbose) {
        console.log(`--- last ${r.recentEvents.length} events of seed ${seed} ---`);
        for (const line of r.recentEvents) console.log(line);
      }
      console.log(`\nFAILED seed ${seed} after ${r.steps} steps: ${r.violation!.message}`);
      console.log(`replay: ${replayCommand(seed, o.steps, o.nodes, o.mutation)}`);
      process.exitCode = 1;
      break;
    }
    const now = Date.now();
    if (now - lastProgress >= 3000) {
      lastProgress = now;
      const secs = (now - started) / 1000;
      console.log(`${done}/${o.seeds} seeds ok, ${(done / secs).toFixed(1)} seeds/s, ${secs.toFixed(0)} s`);
    }
  }
  const secs = Math.max((Date.now() - started) / 1000, 0.001);
  console.log('\n| metric | value |\n|---|---|');
  const row = (k: string, v: string | number): void => console.log(`| ${k} | ${v} |`);
  row('seeds run', done);
  row('first seed', o.seed);
  row('steps per seed (before liveness)', o.steps);
  row('total steps', steps);
  row('wall time (s)', secs.toFixed(1));
  row('seeds/s', (done / secs).toFixed(2));
  row('steps/s', Math.round(steps / secs));
  for (const [k, v] of Object.entries(totals)) row(k, v);
  row('result', process.exitCode === 1 ? 'FAILED' : 'all invariants held');
}

main();
