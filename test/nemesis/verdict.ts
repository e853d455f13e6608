/**
 * The end of a nemesis run: the linearizability check of the clients' history (per-key KV model)
 * and the watch check, with the numbers a run prints.
 */
import {
  check,
  explainFailure,
  type KvInput,
  type KvOutput,
  kvModel,
  type Operation,
  UNKNOWN,
} from '../support/linearizability/index.js';
import type { KeyState, WatchedEvent } from './target.js';
import { checkWatch, type WatchCheckResult } from './watch-check.js';

export interface Verdict {
  readonly operations: number;
  readonly unknown: number;
  /** 'ok', 'illegal', or 'unknown' when the checker ran out of time (inconclusive). */
  readonly linearizable: 'ok' | 'illegal' | 'unknown';
  readonly checkMs: number;
  /** The minimized failing history, printed, when illegal. */
  readonly explanation?: string;
  readonly watch: WatchCheckResult;
}

export function judge(input: {
  readonly history: readonly Operation<KvInput, KvOutput>[];
  readonly watchEvents: readonly WatchedEvent[];
  readonly final: { readonly kvs: ReadonlyMap<string, KeyState>; readonly revision: number };
  readonly checkTimeoutMs?: number;
}): Verdict {
  const model = kvModel();
  const started = Date.now();
  const result = check(model, input.history, { timeoutMs: input.checkTimeoutMs ?? 60_000 });
  const checkMs = Date.now() - started;
  const watch = checkWatch({
    startRevision: 1,
    events: input.watchEvents,
    initial: new Map(),
    final: input.final,
    history: input.history,
  });
  return {
    operations: input.history.length,
    unknown: input.history.filter((op) => op.output === UNKNOWN).length,
    linearizable: result.result,
    checkMs,
    ...(result.result === 'illegal' ? { explanation: explainFailure(model, result).text } : {}),
    watch,
  };
}
