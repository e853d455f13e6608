import type { History, Operation, Unknown } from './history.js';

/** The result of a model step: the next state, or `undefined` when the output is impossible. */
export type Step<State> = State | undefined;

/**
 * A sequential specification. The checker asks whether the operations of a history can be put in
 * one order, consistent with real time, in which each output is what `step` allows.
 *
 * Contract:
 * - `step` is pure and never mutates `state` (states are shared between search branches).
 * - With `output === UNKNOWN`, `step` applies the operation as if it took effect and returns the
 *   resulting state (the "never took effect" branch is the checker's job: it may leave unknown
 *   operations unlinearized).
 * - `key(a) === key(b)` exactly when `a` and `b` behave the same in every future (used by the cache).
 */
export interface Model<State, Input, Output> {
  init(): State;
  step(state: State, input: Input, output: Output | Unknown): Step<State>;
  key(state: State): string;
  /**
   * Optional P-compositionality: split a history into independent sub-histories (e.g. per key),
   * each linearizable on its own exactly when the whole is. Returns arrays of indexes into
   * `history`. Return `undefined` to check the history whole.
   */
  partition?(history: History<Input, Output>): number[][] | undefined;
  /**
   * Optional minimization hint: may `removed` be dropped while `remaining` stays? E.g. the KV model
   * keeps a write whose value a remaining read observed. Default: always.
   */
  canRemove?(removed: readonly Operation<Input, Output>[], remaining: readonly Operation<Input, Output>[]): boolean;
  /**
   * Search-order hint: try unknown-outcome operations before known ones at each step. Good when
   * applying an unknown write too early is usually harmless (a later write overwrites it and the
   * cache merges the branches), bad when every write shifts later outputs (global revisions).
   * Only speed depends on it, never the answer. Default false.
   */
  readonly unknownFirst?: boolean;
  describeOperation?(input: Input, output: Output | Unknown): string;
  describeState?(state: State): string;
}
