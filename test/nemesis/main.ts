/**
 * `npm run nemesis -- [--time SECONDS] [--fault kill|pause|partition|membership|all] [--seed N] [--clients N] [--client-timeout MS]`
 *
 * A long nemesis run against real `parley server` processes (see docs/KV.md "Fault tests").
 * `--fault all` (the default) rotates through the nemeses in segments of at most 60 s. Exit code 0
 * when the history is linearizable (or the check was inconclusive) and the watch is whole, 1 when
 * a check failed, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { describeReport, runNemesisTest } from './run.js';

const USAGE =
  'usage: npm run nemesis -- [--time SECONDS (default 600)] [--fault kill|pause|partition|membership|all] [--seed N] [--clients N] [--client-timeout MS (default 5000)]';

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        time: { type: 'string' },
        fault: { type: 'string' },
        seed: { type: 'string' },
        clients: { type: 'string' },
        'client-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seconds = Number(values.time ?? 600);
  const seed = Number(values.seed ?? Date.now() % 1_000_000);
  const clients = Number(values.clients ?? 4);
  const clientTimeoutMs = Number(values['client-timeout'] ?? 5000);
  const fault = (values.fault as string | undefined) ?? 'all';
  if (!(seconds > 0) || !Number.isInteger(seed) || !(clients >= 1) || !(clientTimeoutMs >= 100)) {
    process.stderr.write(`--time, --seed, --clients and --client-timeout take positive numbers\n${USAGE}\n`);
    return 2;
  }
  if (fault !== 'all' && !(FAULT_KINDS as readonly string[]).includes(fault)) {
    process.stderr.write(`--fault must be one of ${FAULT_KINDS.join(', ')}, all\n${USAGE}\n`);
    return 2;
  }
  const totalMs = seconds * 1000;
  let faults: FaultKind[];
  let msPerFault: number;
  if (fault === 'all') {
    msPerFault = Math.min(60_000, totalMs / FAULT_KINDS.length);
    const segments = Math.max(FAULT_KINDS.length, Math.round(totalMs / msPerFault));
    faults = Array.from({ length: segments }, (_, i) => FAULT_KINDS[i % FAULT_KINDS.length]!);
  } else {
    faults = [fault as FaultKind];
    msPerFault = totalMs;
  }
  // The checker's cost grows with the square of a key group's history (docs/LINEARIZABILITY.md):
  // long runs spread the load over more key pairs, about 10,000 operations each at ~1,000 ops/s.
  const keys = Math.min(120, Math.max(6, 2 * Math.ceil((seconds * 1000) / 10_000)));
  const started = new Date().toISOString();
  let report: Awaited<ReturnType<typeof runNemesisTest>>;
  try {
    report = await runNemesisTest({
      faults,
      msPerFault,
      seed,
      clients,
      clientTimeoutMs,
      keys,
      checkTimeoutMs: Math.max(60_000, seconds * 1000),
      log: (line) => process.stdout.write(`${line}\n`),
    });
  } catch (err) {
    process.stderr.write(`nemesis: the run could not complete: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  process.stdout.write(`started ${started}, finished ${new Date().toISOString()}\n`);
  if (!report.ok) process.stdout.write(`${describeReport(report)}\nreplay the schedule with --seed ${seed}\n`);
  return report.ok ? 0 : 1;
}

process.exitCode = await main();
