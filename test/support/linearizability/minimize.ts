import { type Operation, UNKNOWN } from './history.js';
import type { Model } from './model.js';
import { search } from './search.js';

/**
 * Shrinks an illegal history to a small sub-history that is still illegal: greedy removal of
 * chunks of operations (halves, quarters, … single operations, like delta debugging), keeping a
 * removal when the rest stays illegal. Bounded by `budgetMs`; returns the best found so far.
 *
 * A sub-history of a linearizable history need not be linearizable (a read depends on the write it
 * saw; a failed cas depends on the write that made it fail), so blind removal tends to end on one
 * meaningless operation ("read of a value never written"). Two guards keep the result about the
 * real anomaly:
 * - the culprit: an operation the search could not place (outside the longest linearizable
 *   prefix, earliest return first) without which the history is linearizable. It is kept, and a
 *   removal is accepted only while the rest *without* the culprit stays linearizable, i.e. every
 *   other kept operation is consistent;
 * - the model's `canRemove` hint (the KV model keeps writes whose values remaining reads saw).
 * When no such operation is found (several anomalies), only the hint applies.
 */

export interface Minimized<I, O> {
  readonly operations: readonly Operation<I, O>[];
  /** Longest linearizable prefix of `operations` (indexes into it). */
  readonly longestPrefix: readonly number[];
  /** False when the budget ran out before single-operation removal finished. */
  readonly complete: boolean;
}

/** Known operations outside the prefix, earliest return first: the ones the search could not place. */
export function unplaced<I, O>(ops: readonly Operation<I, O>[], prefix: readonly number[]): number[] {
  const placed = new Set(prefix);
  return ops
    .map((_, i) => i)
    .filter((i) => !placed.has(i) && ops[i]!.output !== UNKNOWN)
    .sort((a, b) => ops[a]!.return - ops[b]!.return);
}

/** How many unplaced operations are tried as the culprit. */
const CULPRIT_TRIES = 32;

export function minimize<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  budgetMs = 2_000,
): Minimized<I, O> {
  const deadline = Date.now() + budgetMs;
  const illegal = (ops: readonly Operation<I, O>[]) => {
    const r = search(model, ops, { deadline });
    return r.result === 'illegal' ? r.longestPrefix : undefined;
  };
  const ok = (ops: readonly Operation<I, O>[]) => search(model, ops, { deadline }).result === 'ok';
  let current = operations;
  let prefix = illegal(current);
  if (prefix === undefined) return { operations, longestPrefix: [], complete: false };
  // The culprit: the first unplaced operation without which the rest is linearizable.
  let culprit: Operation<I, O> | undefined;
  for (const i of unplaced(current, prefix).slice(0, CULPRIT_TRIES)) {
    const c = current[i]!;
    if (ok(current.filter((op) => op !== c))) {
      culprit = c;
      break;
    }
  }

  let complete = true;
  // Single-operation passes repeat until nothing changes: removing a read can free the write it saw.
  let changed = true;
  const nextChunk = (chunk: number) => (chunk > 1 ? Math.ceil(chunk / 2) : changed ? 1 : 0);
  outer: for (let chunk = Math.ceil(current.length / 2); chunk >= 1; chunk = nextChunk(chunk)) {
    changed = false;
    // Invariant: `current` is illegal, `prefix` is its longest linearizable prefix, and when there
    // is a culprit, `current` holds it and is linearizable without it.
    let i = 0;
    while (i < current.length) {
      if (Date.now() > deadline) {
        complete = false;
        break outer;
      }
      const removed = current.slice(i, i + chunk);
      const candidate = [...current.slice(0, i), ...current.slice(i + chunk)];
      let accept =
        candidate.length > 0 &&
        (culprit === undefined || !removed.includes(culprit)) &&
        (model.canRemove?.(removed, candidate) ?? true);
      let p: readonly number[] | undefined;
      if (accept) p = illegal(candidate);
      accept = p !== undefined && (culprit === undefined || ok(candidate.filter((op) => op !== culprit)));
      if (accept) {
        current = candidate;
        prefix = p!;
        changed = true;
      } else i += chunk;
    }
  }
  return { operations: current, longestPrefix: prefix, complete };
}
