import { linkedController } from '../base/abort.js';
import { type CancelTimer, systemTimer, type Timer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { LatencyQuantiles } from './latency-quantiles.js';
import {
  type CallInfo,
  type ExecuteContext,
  invoke,
  type Policy,
  type PolicyContext,
  toPolicyContext,
} from './policy.js';
import type { RetryBudget } from './retry-budget.js';

export interface HedgingOptions {
  /** Fixed delay before each extra copy, ms; also the delay while `quantiles` has too few samples (default 100). */
  delayMs?: number;
  /** Adaptive delay: hedge after this quantile of observed latency (e.g. 0.95), from `quantiles`. */
  quantile?: number;
  /** Where latencies of winning attempts are recorded and the quantile read. */
  quantiles?: LatencyQuantiles;
  /** Samples needed before the quantile is trusted (default 20). */
  minSamples?: number;
  /** Extra copies at most (default 1; so at most 2 attempts in flight). */
  maxHedges?: number;
  /**
   * Retry budget shared with the retry policy (gRPC A6 throttles hedges too): an extra copy starts
   * only while `canRetry()`; a failed copy counts as a failure, the winner as a success.
   */
  budget?: RetryBudget | ((call: CallInfo) => RetryBudget | undefined);
  timer?: Timer;
}

/**
 * Hedging for idempotent calls: if the first attempt has not finished after the delay, start
 * another (ctx.hedge = 1, 2, … so the pick step can choose another node); the first success wins
 * and the others' signals abort. A failed copy starts the next one at once if any are left;
 * when all copies failed, the last error is thrown. Non-idempotent calls run once, unhedged.
 */
export class HedgingPolicy implements Policy {
  readonly #o: HedgingOptions;
  readonly #timer: Timer;
  readonly #maxHedges: number;

  constructor(options: HedgingOptions = {}) {
    this.#o = options;
    this.#timer = options.timer ?? systemTimer;
    this.#maxHedges = Math.max(0, Math.floor(options.maxHedges ?? 1));
  }

  /** The delay the next hedged call would use. */
  currentDelayMs(): number {
    const { quantiles, quantile } = this.#o;
    if (quantiles && quantile !== undefined && quantiles.count >= (this.#o.minSamples ?? 20)) {
      return quantiles.quantile(quantile) ?? this.#o.delayMs ?? 100;
    }
    return this.#o.delayMs ?? 100;
  }

  execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    if (!ctx.call.idempotent || this.#maxHedges === 0) return fn(ctx);
    const delayMs = this.currentDelayMs();
    const b = this.#o.budget;
    const budget = typeof b === 'function' ? b(ctx.call) : b;
    return new Promise<T>((resolve, reject) => {
      const running: { controller: AbortController; dispose: () => void; done: boolean }[] = [];
      let launched = 0;
      let pending = 0;
      let settled = false;
      let cancelTimer: CancelTimer = () => {};
      let lastError: unknown;
      const finish = () => {
        settled = true;
        cancelTimer();
        for (const r of running) {
          // Only copies still running are told to stop; finished ones just drop their listener.
          if (!r.done) r.controller.abort(new ParleyError('CANCELLED', 'another hedged attempt finished first'));
          r.dispose();
        }
      };
      const schedule = () => {
        if (launched <= this.#maxHedges) cancelTimer = this.#timer.setTimeout(launch, delayMs);
      };
      const launch = () => {
        if (settled || launched > this.#maxHedges) return;
        if (launched > 0 && budget && !budget.canRetry()) {
          if (pending === 0) {
            finish();
            reject(lastError);
          }
          return;
        }
        const hedge = launched++;
        pending++;
        const link = { ...linkedController(ctx.signal), done: false };
        running.push(link);
        const start = this.#timer.now();
        schedule();
        invoke(fn, { ...ctx, signal: link.controller.signal, hedge }).then(
          (value) => {
            link.done = true;
            if (settled) return;
            this.#o.quantiles?.record(this.#timer.now() - start);
            budget?.onSuccess();
            finish();
            resolve(value);
          },
          (err) => {
            link.done = true;
            pending--;
            lastError = err;
            if (!ctx.signal.aborted) budget?.onFailure();
            if (settled) return;
            if (ctx.signal.aborted || launched > this.#maxHedges) {
              if (pending === 0 || ctx.signal.aborted) {
                finish();
                reject(err);
              }
              return;
            }
            cancelTimer();
            launch();
          },
        );
      };
      launch();
    });
  }
}
