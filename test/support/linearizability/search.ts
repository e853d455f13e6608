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

export function search<S, I, O>(model: Model<S, I, O>, history: History<I, O>, opts: SearchOptions): SearchResult {
  const n = history.length;
  let knownLeft = 0;
  for (const op of history) if (op.output !== UNKNOWN) knownLeft++;

  const head = buildEntries(history);
  const linearized = new Bitset(n);
  const cache = new Map<string, Uint32Array[]>();
  const stack: Frame<S>[] = [];
  let state = model.init();
  let entry = head.next;
  let longest: number[] = [];
  let steps = 0;

  // Invariant: `stack` holds the linearized operations in order, each with the state before it;
  // `linearized` is exactly the set of their ids; `knownLeft` counts known ones not in it.
  while (knownLeft > 0) {
    if ((++steps & 1023) === 0 && Date.now() > opts.deadline) {
      return { result: 'unknown', longestPrefix: longest };
    }
    if (entry?.isCall) {
      const op = history[entry.id]!;
      const next = model.step(state, op.input, op.output);
      if (next !== undefined) {
        linearized.flip(entry.id);
        const bucketKey = `${linearized.hashKey()}|${model.key(next)}`;
        const bucket = cache.get(bucketKey);
        if (bucket === undefined || !bucket.some((w) => linearized.equalsWords(w))) {
          if (bucket === undefined) cache.set(bucketKey, [linearized.words.slice()]);
          else bucket.push(linearized.words.slice());
          stack.push({ entry, state });
          if (op.output !== UNKNOWN) knownLeft--;
          if (stack.length > longest.length) longest = stack.map((f) => f.entry.id);
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.flip(entry.id);
      }
      entry = entry.next;
      continue;
    }
    // A return entry (or the end of the list): the search cannot go on from here.
    const top = stack.pop();
    if (top === undefined) return { result: 'illegal', longestPrefix: longest };
    if (history[top.entry.id]!.output !== UNKNOWN) knownLeft++;
    state = top.state;
    linearized.flip(top.entry.id);
    unlift(top.entry);
    entry = top.entry.next;
  }
  return { result: 'ok', order: stack.map((f) => f.entry.id) };
}
