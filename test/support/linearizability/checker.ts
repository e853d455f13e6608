import { type History, normalize, type Operation } from './history.js';
import type { Model } from './model.js';
import { search } from './search.js';

/**
 * The entry point: split the history with the model's partition (if any), search each part with a
 * shared time budget, and report the first illegal part.
 */

export interface CheckOptions {
  /** Give up after this long and answer 'unknown'. Default 10 s. */
  readonly timeoutMs?: number;
}

export interface PartitionReport<I, O> {
  /** Indexes into the checked history. */
  readonly indexes: readonly number[];
  readonly operations: readonly Operation<I, O>[];
  /** Longest linearizable prefix found, as indexes into `operations`, in linearization order. */
  readonly longestPrefix: readonly number[];
}

export type CheckResult<I, O> =
  | { readonly result: 'ok'; readonly partitions: number; readonly elapsedMs: number }
  | {
      readonly result: 'illegal';
      readonly partitions: number;
      readonly elapsedMs: number;
      /** The (first) partition that cannot be linearized. */
      readonly failing: PartitionReport<I, O>;
    }
  | {
      readonly result: 'unknown';
      readonly partitions: number;
      readonly elapsedMs: number;
      /** The partition the budget ran out on. */
      readonly timedOut: PartitionReport<I, O>;
    };

export function check<S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  options: CheckOptions = {},
): CheckResult<I, O> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 10_000);
  const ops = normalize(history);
  const parts = model.partition?.(ops) ?? [ops.map((_, i) => i)];
  // Small partitions first: an illegal one is found sooner and costs less to minimize.
  const order = [...parts].sort((a, b) => a.length - b.length);
  for (const indexes of order) {
    const sub = indexes.map((i) => ops[i]!);
    const r = search(model, sub, { deadline });
    if (r.result === 'ok') continue;
    const report = { indexes, operations: sub, longestPrefix: r.longestPrefix };
    const elapsedMs = Date.now() - started;
    if (r.result === 'illegal') return { result: 'illegal', partitions: parts.length, elapsedMs, failing: report };
    return { result: 'unknown', partitions: parts.length, elapsedMs, timedOut: report };
  }
  return { result: 'ok', partitions: parts.length, elapsedMs: Date.now() - started };
}

/** Convenience: true when the history is linearizable within the budget (false also on timeout). */
export function isLinearizable<S, I, O>(model: Model<S, I, O>, history: History<I, O>, options?: CheckOptions) {
  return check(model, history, options).result === 'ok';
}
