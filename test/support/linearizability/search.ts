import { Bitset } from './bitset.js';
import { buildEntries, type Entry, type History, UNKNOWN } from './history.js';
import type { Model } from './model.js';

/**
 * Wing & Gong's backtracking search with Lowe's memoization, over one (sub-)history.
 *
 * The search walks a doubly linked list of call/return events. Picking a call entry whose model
 * step succeeds "linearizes" that operation: its call and return entries are lifted out of the list
 * and the search restarts from the head. Reaching a return entry means the operation it belongs to
 * must already be linearized, but is not: backtrack (undo the last pick and try the next call).
 *
 * Lowe's cache: a (set of linearized operations, model state) pair that was reached before leads to
 * the same subtree, so it is not explored twice.
 *
 * Unknown outcomes: their return entries sit at +∞, and the search succeeds as soon as every
 * operation with a known outcome is linearized, so unknown ones may also never take effect.
 */

export type SearchResult =
  | { readonly result: 'ok'; readonly order: readonly number[] }
  | { readonly result: 'illegal'; readonly longestPrefix: readonly number[] }
  | { readonly result: 'unknown'; readonly longestPrefix: readonly number[] };

export interface SearchOptions {
  /** Absolute time (Date.now()) after which the search gives up with 'unknown'. */
  readonly deadline: number;
}

interface Frame<State> {
  readonly entry: Entry;
  readonly state: State;
  /** Candidate pass the entry was picked in (0: the preferred kind of outcome, 1: the other). */
  readonly pass: 0 | 1;
  /** Unknown-outcome operations linearized in a row, ending with this one (0 for a known one). */
  readonly chain: number;
}

function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Exact inverse of lift(); must be called in reverse order of the lifts. */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/**
 * Candidate order and unknown outcomes. At each node the candidates are the calls before the first
 * return entry, tried in two passes: by default known-outcome calls first (pass 0) and unknown ones
 * after (pass 1), since an unknown operation can always wait; a model with `unknownFirst` reverses
 * the passes (better when placing an unknown write early is usually harmless).
 * Unknown operations that never took effect stay candidates forever, and a plain depth-first
 * search would try every subset of them chained in a row (2^u nodes at each stuck point). So
 * chains of consecutive unknown placements are bounded by `maxChain`, iteratively deepened
 * (1, 2, 4, … up to the number of unknown operations) when a bounded round ends illegal but cut
 * branches. The last round is unbounded, so the search stays exhaustive.
 */
export function search<S, I, O>(model: Model<S, I, O>, history: History<I, O>, opts: SearchOptions): SearchResult {
  let unknowns = 0;
  for (const op of history) if (op.output === UNKNOWN) unknowns++;
  let longest: readonly number[] = [];
  for (let maxChain = Math.min(1, unknowns); ; maxChain = Math.min(maxChain * 2, unknowns)) {
    const r = searchBounded(model, history, opts, maxChain >= unknowns ? Infinity : maxChain);
    if (r.longestPrefix.length >= longest.length) longest = r.longestPrefix;
    if (r.result === 'ok') return { result: 'ok', order: r.order };
    if (r.result === 'unknown') return { result: 'unknown', longestPrefix: longest };
    if (!r.cut) return { result: 'illegal', longestPrefix: longest };
  }
}

type BoundedResult =
  | { readonly result: 'ok'; readonly order: readonly number[]; readonly longestPrefix: readonly number[] }
  | { readonly result: 'illegal' | 'unknown'; readonly longestPrefix: readonly number[]; readonly cut: boolean };

function searchBounded<S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  opts: SearchOptions,
  maxChain: number,
): BoundedResult {
  const n = history.length;
  let knownLeft = 0;
  for (const op of history) if (op.output !== UNKNOWN) knownLeft++;

  const head = buildEntries(history);
  const linearized = new Bitset(n);
  const cache = new Map<string, Uint32Array[]>();
  const stack: Frame<S>[] = [];
  let state = model.init();
  let entry = head.next;
  let pass: 0 | 1 = 0;
  let longest: number[] = [];
  let steps = 0;
  let cut = false;
  // Which kind of operation pass 0 tries: known outcomes, or unknown ones when the model says so.
  const firstPassUnknown = model.unknownFirst === true;

  // Invariant: `stack` holds the linearized operations in order, each with the state before it;
  // `linearized` is exactly the set of their ids; `knownLeft` counts known ones not in it.
  while (knownLeft > 0) {
    if ((++steps & 1023) === 0 && Date.now() > opts.deadline) {
      return { result: 'unknown', longestPrefix: longest, cut };
    }
    if (entry?.isCall) {
      const op = history[entry.id]!;
      const isUnknown = op.output === UNKNOWN;
      const chain = isUnknown ? (stack[stack.length - 1]?.chain ?? 0) + 1 : 0;
      if ((isUnknown !== (pass === 0)) === firstPassUnknown) {
        entry = entry.next;
        continue;
      }
      if (chain > maxChain) {
        cut = true;
        entry = entry.next;
        continue;
      }
      const next = model.step(state, op.input, op.output);
      if (next !== undefined) {
        linearized.flip(entry.id);
        const bucketKey = `${linearized.hashKey()}|${model.key(next)}`;
        const bucket = cache.get(bucketKey);
        if (bucket === undefined || !bucket.some((w) => linearized.equalsWords(w))) {
          if (bucket === undefined) cache.set(bucketKey, [linearized.words.slice()]);
          else bucket.push(linearized.words.slice());
          stack.push({ entry, state, pass, chain });
          if (!isUnknown) knownLeft--;
          if (stack.length > longest.length) longest = stack.map((f) => f.entry.id);
          state = next;
          lift(entry);
          entry = head.next;
          pass = 0;
          continue;
        }
        linearized.flip(entry.id);
      }
      entry = entry.next;
      continue;
    }
    // A return entry (or the end of the list): this pass has no more candidates.
    if (pass === 0) {
      pass = 1;
      entry = head.next;
      continue;
    }
    const top = stack.pop();
    if (top === undefined) return { result: 'illegal', longestPrefix: longest, cut };
    if (history[top.entry.id]!.output !== UNKNOWN) knownLeft++;
    state = top.state;
    linearized.flip(top.entry.id);
    unlift(top.entry);
    entry = top.entry.next;
    pass = top.pass;
  }
  const order = stack.map((f) => f.entry.id);
  return { result: 'ok', order, longestPrefix: order };
}
