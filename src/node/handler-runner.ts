import type { Scheduler } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Context } from './context.js';
import type { LocalAction } from './local-services.js';
import { abortedCallError } from './pending-calls.js';
import { isThenable } from './thenable.js';

/** When to stop waiting for a handler that has not finished. */
export interface HandlerLimits {
  readonly scheduler: Scheduler;
  /** Stop waiting after this many ms (the call's deadline); undefined = wait until the handler ends. */
  readonly timeoutMs: number | undefined;
  /** The error given when `timeoutMs` passes. */
  readonly expired: () => ParleyError;
  /** Stop waiting when this aborts (a local caller's signal); the error is its reason, or CANCELLED. */
  readonly signal: AbortSignal | undefined;
}

/**
 * How a run ended. `returned` is false when the caller stopped waiting (deadline or abort) while
 * the handler still runs; it is true when the handler itself returned or threw (or never started,
 * because the signal had already aborted).
 */
export type HandlerDone = (value: unknown, error: ParleyError | undefined, returned: boolean) => void;

/** No deadline timer and no signal: wait for the handler, however long it takes. */
export const WAIT_FOR_HANDLER: HandlerLimits = Object.freeze({
  scheduler: { setTimeout: () => () => {} },
  timeoutMs: undefined,
  expired: () => new ParleyError('DEADLINE_EXCEEDED', 'deadline passed'),
  signal: undefined,
});

/**
 * Runs one action handler, for a local call and for a request from a peer alike: invokes it,
 * turns a throw or rejection into a ParleyError, and stops waiting at the deadline or when the
 * signal aborts. A handler that returns a plain value is answered synchronously (no promise, no
 * timer).
 *
 * Invariant: `done(…, true)` is called exactly once, when the handler has returned (so counts of
 * running handlers stay exact); before it, `done(…, false)` is called at most once, when the caller
 * stopped waiting. The deadline timer and the abort listener are gone once the handler returned.
 * The context is not touched: callers abort or finish it as their side requires.
 */
export function runHandler(
  action: LocalAction,
  params: unknown,
  ctx: Context,
  limits: HandlerLimits,
  done: HandlerDone,
): void {
  const signal = limits.signal;
  if (signal?.aborted) {
    done(undefined, abortedCallError(ctx.action, signal), true);
    return;
  }
  let result: unknown;
  try {
    result = action.invoke(params, ctx);
  } catch (err) {
    done(undefined, ParleyError.from(err), true);
    return;
  }
  if (!isThenable(result)) {
    done(result, undefined, true);
    return;
  }
  if (limits.timeoutMs === undefined && !signal) {
    result.then(
      (v) => done(v, undefined, true),
      (e) => done(undefined, ParleyError.from(e), true),
    );
    return;
  }
  let waiting = true;
  const giveUp = (error: ParleyError) => {
    if (!waiting) return;
    waiting = false;
    stopWatching();
    done(undefined, error, false);
  };
  const onAbort = () => giveUp(signalReason(signal));
  const cancelTimer =
    limits.timeoutMs === undefined
      ? undefined
      : limits.scheduler.setTimeout(() => giveUp(limits.expired()), limits.timeoutMs);
  signal?.addEventListener('abort', onAbort, { once: true });
  const stopWatching = () => {
    cancelTimer?.();
    signal?.removeEventListener('abort', onAbort);
  };
  result.then(
    (v) => {
      stopWatching();
      done(v, undefined, true);
    },
    (e) => {
      stopWatching();
      done(undefined, ParleyError.from(e), true);
    },
  );
}

function signalReason(signal: AbortSignal | undefined): ParleyError {
  const reason: unknown = signal?.reason;
  if (reason instanceof ParleyError) return reason;
  return new ParleyError('CANCELLED', 'the call was cancelled by the caller');
}
