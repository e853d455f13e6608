import { delay } from '../base/abort.js';
import { type Backoff, exponentialBackoff } from '../base/backoff.js';
import { systemTimer, type Timer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import { isBrokenCircuit } from './circuit-breaker.js';
import { Emitter, type Event } from './event.js';
import type { CallInfo, ExecuteContext, Policy, PolicyContext } from './policy.js';
import { toPolicyContext } from './policy.js';
import type { RetryBudget } from './retry-budget.js';

export interface RetryOptions {
  /** Attempts including the first (default 3; clamped to [1, 10]). */
  maxAttempts?: number;
  /** Default: exponential, 100 ms initial, ×2, 10 s cap, full jitter. */
  backoff?: Backoff;
  /** Codes retried for any call (default `['UNAVAILABLE']`). */
  retryableCodes?: readonly ErrorCode[];
  /** Codes retried only for idempotent calls (default `['DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED']`). */
  idempotentRetryableCodes?: readonly ErrorCode[];
  /** Whether calls are idempotent; default: `ctx.call.idempotent`. */
  idempotent?: boolean;
  /** A shared budget, or one per call (e.g. `(call) => registry.for(call.service ?? '')`). */
  budget?: RetryBudget | ((call: CallInfo) => RetryBudget | undefined);
  timer?: Timer;
  random?: () => number;
}

export interface RetryEvent {
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly error: unknown;
  /** How long the policy waits before the next attempt. */
  readonly delayMs: number;
}

/** Why the policy stopped retrying a retryable failure. */
export type GiveUpReason = 'attempts' | 'deadline' | 'pushback' | 'budget';

export interface GiveUpEvent {
  readonly attempt: number;
  readonly error: unknown;
  readonly reason: GiveUpReason;
}

/**
 * Retries failed attempts with backoff. Rules, in order, after an attempt fails:
 * 1. Not retryable (code not in the retryable sets, an open breaker's rejection, or the caller's
 *    signal aborted): rethrow.
 * 2. Count the failure against the budget.
 * 3. Attempts used up → give up.
 * 4. Server pushback `retryAfterMs < 0` → give up ("don't retry"); otherwise the wait is
 *    max(backoff, retryAfterMs): never sooner than the server asked.
 * 5. The wait would end at or past the deadline → give up (never retry past the caller's deadline).
 * 6. The budget refuses → give up.
 * Giving up rethrows the last attempt's error unchanged.
 *
 * Each attempt gets `ctx.attempt` = 1, 2, … so the pick step below can exclude nodes already tried.
 */
export class RetryPolicy implements Policy {
  readonly #maxAttempts: number;
  readonly #backoff: Backoff;
  readonly #retryable: ReadonlySet<ErrorCode>;
  readonly #idempotentRetryable: ReadonlySet<ErrorCode>;
  readonly #options: RetryOptions;
  readonly #timer: Timer;
  readonly #random: () => number;
  readonly #onRetry = new Emitter<RetryEvent>();
  readonly #onGiveUp = new Emitter<GiveUpEvent>();

  /** Fires before each wait for a retry. */
  readonly onRetry: Event<RetryEvent> = this.#onRetry.event;
  /** Fires when a retryable failure is not retried. */
  readonly onGiveUp: Event<GiveUpEvent> = this.#onGiveUp.event;

  constructor(options: RetryOptions = {}) {
    this.#options = options;
    this.#maxAttempts = Math.min(10, Math.max(1, Math.floor(options.maxAttempts ?? 3)));
    this.#backoff = options.backoff ?? exponentialBackoff();
    this.#retryable = new Set(options.retryableCodes ?? ['UNAVAILABLE']);
    this.#idempotentRetryable = new Set(
      options.idempotentRetryableCodes ?? ['DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'],
    );
    this.#timer = options.timer ?? systemTimer;
    this.#random = options.random ?? Math.random;
  }

  /**
   * True when an error with this code may be retried for a call that is (or is not) idempotent.
   * An open breaker's rejection (UNAVAILABLE, reason 'circuit-open') is not: the breaker stays
   * open for seconds, so a retry would only be rejected again and spend the retry budget.
   */
  isRetryable(err: unknown, idempotent: boolean): boolean {
    if (isBrokenCircuit(err)) return false;
    const code = ParleyError.from(err).code;
    return this.#retryable.has(code) || (idempotent && this.#idempotentRetryable.has(code));
  }

  async execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    const idempotent = this.#options.idempotent ?? ctx.call.idempotent ?? false;
    const budgetOption = this.#options.budget;
    const budget = typeof budgetOption === 'function' ? budgetOption(ctx.call) : budgetOption;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn({ ...ctx, attempt });
        budget?.onSuccess();
        return result;
      } catch (err) {
        if (ctx.signal.aborted || !this.isRetryable(err, idempotent)) throw err;
        budget?.onFailure();
        const giveUp = (reason: GiveUpReason): never => {
          this.#onGiveUp.fire({ attempt, error: err, reason });
          throw err;
        };
        if (attempt >= this.#maxAttempts) giveUp('attempts');
        const pushback = err instanceof ParleyError ? err.retryAfterMs : undefined;
        if (pushback !== undefined && pushback < 0) giveUp('pushback');
        const wait = Math.max(this.#backoff.delayMs(attempt, this.#random), pushback ?? 0);
        if (ctx.deadline !== undefined && this.#timer.now() + wait >= ctx.deadline) {
          giveUp(pushback !== undefined && pushback >= wait ? 'pushback' : 'deadline');
        }
        if (budget && !budget.canRetry()) giveUp('budget');
        this.#onRetry.fire({ attempt, error: err, delayMs: wait });
        await delay(this.#timer, wait, ctx.signal);
      }
    }
  }
}
