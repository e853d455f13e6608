/** The preamble of every benchmark report: when, where, what exactly ran, and which systems were skipped. */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { BenchOptions } from './bench-options.js';
import type { StartedSystems } from './system-processes.js';

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function printRunHeader(benchmark: string, options: BenchOptions, started: StartedSystems): void {
  console.log(`${benchmark} benchmark — ${new Date().toISOString()}`);
  console.log(
    `machine: ${availableParallelism()} cpus, ${cpuModel()}; node ${process.version}; load average ${formatLoad()}`,
  );
  console.log(`command: npm run bench -- ${benchmark} ${process.argv.slice(3).join(' ')}`.trimEnd());
  console.log(
    `cells: warm-up ${options.warmupMs / 1000} s + ${options.durationMs / 1000} s measured; rounds ${options.rounds}` +
      (options.rounds > 1 ? ' (best round shown)' : '') +
      (options.pin ? '; servers pinned to cpu 1, clients to cpu 0' : '; processes not pinned'),
  );
  for (const system of started.running) console.log(`  ${system.name}: ${system.description}`);
  for (const note of started.notes) console.log(`  NOTE ${note}`);
}

/** The 1, 5 and 15 minute load averages, e.g. '0.52 0.61 0.40' (other work on a shared machine shows here). */
export function formatLoad(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}
