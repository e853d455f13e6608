/**
 * `npm run fuzz -- --frames N [--seed S] [--at I] [--slow-ms MS] [--skip TARGET]`: drives Parley's frame decoder,
 * codecs, packet parsers and command boundaries with N random and mutated inputs (fuzz-runner.ts).
 * Prints progress and a summary; exits 1 on a finding, with the seed, the iteration that replays
 * it (`--at`) and the minimized input in hex.
 */
import { parseArgs } from 'node:util';
import { hex, mib, runFuzz } from './fuzz-runner.js';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    at: { type: 'string' },
    'slow-ms': { type: 'string', default: '2000' },
    'max-heap-mib': { type: 'string', default: '512' },
    skip: { type: 'string', multiple: true },
  },
});
const frames = Number(values.frames);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(frames) || frames < 1 || !Number.isSafeInteger(seed) || seed < 0) {
  process.stderr.write(
    'usage: npm run fuzz -- --frames N [--seed S] [--at I] [--slow-ms MS] [--max-heap-mib M] [--skip TARGET]...\n',
  );
  process.exit(2);
}
const at = values.at === undefined ? undefined : Number(values.at);
process.stdout.write(`fuzz: ${at === undefined ? `${frames} inputs` : `iteration ${at}`}, seed ${seed}\n`);
const result = await runFuzz({
  frames,
  seed,
  ...(at === undefined ? {} : { at }),
  slowMs: Number(values['slow-ms']),
  maxHeapGrowthBytes: Number(values['max-heap-mib']) * 1024 * 1024,
  skip: values.skip ?? [],
  progressEvery: 50_000,
  onProgress: (done, r) =>
    process.stdout.write(
      `  ${done} inputs, ${r.frames} frames, ${Math.round((r.inputs / r.elapsedMs) * 1000)} inputs/s, heap ${mib(process.memoryUsage().heapUsed)} MiB\n`,
    ),
});
const seconds = result.elapsedMs / 1000;
const codes = [...result.tally.codes.entries()].sort((a, b) => b[1] - a[1]);
process.stdout.write(
  [
    `fuzz: ${result.inputs} inputs (${result.frames} frames) in ${seconds.toFixed(1)} s: ` +
      `${Math.round(result.inputs / seconds)} inputs/s, ${Math.round(result.frames / seconds)} frames/s`,
    `  accepted ${result.tally.accepted}, refused ${result.tally.refused}: ${codes.map(([c, n]) => `${c} ${n}`).join(', ')}`,
    `  heap ${mib(result.heapStartBytes)} MiB at start, ${mib(result.heapPeakBytes)} MiB peak; slowest input ${result.slowestMs.toFixed(1)} ms`,
    '',
  ].join('\n'),
);
const f = result.finding;
if (f !== undefined) {
  process.stdout.write(
    [
      `FINDING ${f.kind} in ${f.target}: ${f.message}`,
      `  replay: npm run fuzz -- --seed ${f.seed} --at ${f.iteration}`,
      `  mode ${f.mode}${f.mode === 'body' ? ` (${f.json ? 'JSON' : 'MessagePack'})` : ''}`,
      `  input     ${hex(f.input)}`,
      `  minimized ${hex(f.minimized)}`,
      '',
    ].join('\n'),
  );
  process.exit(1);
}
process.stdout.write('fuzz: no findings\n');
