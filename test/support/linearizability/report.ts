import type { CheckResult } from './checker.js';
import { describeHistory } from './describe.js';
import { minimize } from './minimize.js';
import type { Model } from './model.js';

/**
 * What a nemesis test prints when check() fails: the failing partition shrunk to a small
 * sub-history, described per client with the longest prefix and why it stops.
 */

export interface FailureReport {
  readonly text: string;
  /** Size of the failing partition before and after minimization. */
  readonly before: number;
  readonly after: number;
}

export function explainFailure<S, I, O>(
  model: Model<S, I, O>,
  result: CheckResult<I, O>,
  options: { readonly minimizeBudgetMs?: number } = {},
): FailureReport {
  if (result.result === 'ok') return { text: 'linearizable', before: 0, after: 0 };
  if (result.result === 'unknown') {
    const p = result.timedOut;
    const text =
      `check timed out after ${result.elapsedMs} ms on a partition of ${p.operations.length} operations ` +
      `(longest prefix so far: ${p.longestPrefix.length}); raise timeoutMs or shorten the history.`;
    return { text, before: p.operations.length, after: p.operations.length };
  }
  const failing = result.failing;
  const small = minimize(model, failing.operations, options.minimizeBudgetMs ?? 2_000);
  const header =
    `NOT LINEARIZABLE: a partition of ${failing.operations.length} operations (of ${result.partitions}) has no legal order; ` +
    `shrunk to ${small.operations.length}${small.complete ? '' : ' (minimization budget ran out)'}.`;
  return {
    text: `${header}\n${describeHistory(model, small.operations, small.longestPrefix)}`,
    before: failing.operations.length,
    after: small.operations.length,
  };
}
