/**
 * The CI version of the nemesis tests (docs/KV.md "Fault tests"): for each fault type, 20 s of
 * faults against a 3-member cluster of `parley server` processes under concurrent client load,
 * then the history must be linearizable and the watch whole. About 30 s per fault type on the
 * shared 2-core machine. `npm run nemesis -- --time 600` runs the long version.
 *
 * The seed is fixed per fault type so that a failure names its schedule; NEMESIS_SEED overrides it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAULT_KINDS } from './faults.js';
import { describeReport, runNemesisTest } from './run.js';

const SECONDS_PER_FAULT = Number(process.env.NEMESIS_SECONDS ?? 20);

describe('nemesis: 3 server processes, concurrent clients, faults', { concurrency: 1 }, () => {
  for (const [i, fault] of FAULT_KINDS.entries()) {
    it(`${fault}: the history is linearizable and the watch has no gap or duplicate`, {
      timeout: 240_000,
    }, async () => {
      const seed = Number(process.env.NEMESIS_SEED ?? 1000 + i);
      const lines: string[] = [];
      const report = await runNemesisTest({
        faults: [fault],
        msPerFault: SECONDS_PER_FAULT * 1000,
        seed,
        // Shorter than the 5 s default so that faults leave unknown outcomes for the checker.
        clientTimeoutMs: 2000,
        log: (line) => lines.push(line),
      });
      // One summary line per run in the test output (history size, ops/s, unknowns, checker time).
      process.stdout.write(`${describeReport(report).split('\n').slice(0, 5).join('\n')}\n`);
      assert.ok(report.ok, `${describeReport(report)}\nrun log:\n${lines.join('\n')}`);
      assert.notEqual(report.verdict.linearizable, 'unknown', 'the checker ran out of time: inconclusive');
      assert.ok(report.stats.ok > 100, `only ${report.stats.ok} operations completed: the cluster barely served`);
      assert.ok(Object.keys(report.faultCounts).length > 0, 'no fault was injected');
    });
  }
});
