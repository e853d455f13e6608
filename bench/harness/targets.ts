/** A performance target checked against a ratio or value measured in the same run. */
import { formatTable } from './table.js';

export interface TargetCheck {
  target: string;
  /** What was measured, already formatted (e.g. '0.81× (112,000 / 138,000 calls/s)'). */
  measured: string;
  /** undefined when it could not be measured (a system missing or failing). */
  met: boolean | undefined;
  /** The same ratio for the bare echo in place of Parley: what no framework on this machine could beat. */
  ceiling?: string;
}

export function formatTargets(checks: TargetCheck[]): string {
  const withCeiling = checks.some((c) => c.ceiling !== undefined);
  const result = (c: TargetCheck) => (c.met === undefined ? 'not measured' : c.met ? 'met' : 'MISSED');
  if (!withCeiling) {
    return formatTable(
      ['target', 'measured', 'result'],
      checks.map((c) => [c.target, c.measured, result(c)]),
    );
  }
  return formatTable(
    ['target', 'measured', 'result', "bare echo in parley's place"],
    checks.map((c) => [c.target, c.measured, result(c), c.ceiling ?? '']),
  );
}
