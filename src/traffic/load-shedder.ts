import { type Clock, systemTimer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ConcurrencyLimit } from './concurrency-limit.js';
import { type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export interface LoadShedderOptions {
  limit: ConcurrencyLimit;
  /**
   * Share of the limit each priority may fill, index = priority (0 = critical … 3 = sheddable).
   * Default [1, 0.9, 0.75, 0.5]: sheddable work is refused once in-flight reaches half the limit,
   * critical work only at the full limit. Priorities past the end use the last entry.
   */
  priorityShares?: readonly number[];
  clock?: Clock;
}

/**
 * Server-side load shedding: a call is admitted only while in-flight < limit × share(priority);
 * otherwise it fails at once with RESOURCE_EXHAUSTED, before queues (and latency) build up.
 * Each finished call feeds its latency to the adaptive limit; RESOURCE_EXHAUSTED and
 * DEADLINE_EXCEEDED results count as drops. Invariant: inflight = admitted − finished ≥ 0.
 */
export class LoadShedder implements Policy {
  readonly #limit: ConcurrencyLimit;
  readonly #shares: readonly number[];
  readonly #clock: Clock;
  #inflight = 0;

  constructor(options: LoadShedderOptions) {
    this.#limit = options.limit;
    this.#shares = options.priorityShares ?? [1, 0.9, 0.75, 0.5];
    this.#clock = options.clock ?? systemTimer;
  }

  get inflight(): number {
    return this.#inflight;
  }

  async execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    const priority = Math.max(0, Math.floor(ctx.call.priority ?? 1));
    const share = this.#shares[Math.min(priority, this.#shares.length - 1)] ?? 1;
    const allowed = this.#limit.limit * share;
    if (this.#inflight >= allowed) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `server overloaded: priority ${priority} shed at ${this.#inflight} in flight`,
        {
          details: { reason: 'load-shed', limit: this.#limit.limit, priority },
        },
      );
    }
    const inflight = ++this.#inflight;
    const start = this.#clock.now();
    let dropped = false;
    try {
      return await fn(ctx);
    } catch (err) {
      dropped = ParleyError.is(err, 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED');
      throw err;
    } finally {
      this.#inflight--;
      this.#limit.onSample(this.#clock.now() - start, inflight, dropped);
    }
  }
}
