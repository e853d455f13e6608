import { type Clock, systemTimer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import { LruMap } from './lru-map.js';
import { type CallInfo, type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';
import type { RateLimiter } from './rate-limiters.js';

export interface RateLimitOptions {
  /** Named in errors, e.g. 'per-user'. */
  readonly name: string;
  /** A new limiter for a key seen for the first time (e.g. `() => new Gcra(100, 20)`). */
  readonly limiter: () => RateLimiter;
  /**
   * The scope: which key a call counts against. Default: one shared limiter. Use e.g.
   * `(c) => c.action`, `(c) => c.callerNodeId`, or `(c) => String(c.meta?.userId)`.
   */
  readonly key?: (call: CallInfo) => string;
  /** Keys remembered at most (least recently used are forgotten first; default 10 000). */
  readonly maxKeys?: number;
  /** Keys unused this long are forgotten, ms (default: only the count bound). A forgotten key starts with a fresh limiter. */
  readonly idleTtlMs?: number;
  readonly clock?: Clock;
}

/**
 * Rate limiting scoped by key. A refused call fails at once with RESOURCE_EXHAUSTED carrying
 * retryAfterMs, the server's pushback that retry policies honour.
 */
export class RateLimitPolicy implements Policy {
  private readonly limiters: LruMap<string, RateLimiter>;
  private readonly clock: Clock;

  constructor(private readonly options: RateLimitOptions) {
    this.clock = options.clock ?? systemTimer;
    this.limiters = new LruMap({
      maxSize: options.maxKeys ?? 10_000,
      ...(options.idleTtlMs === undefined ? {} : { idleTtlMs: options.idleTtlMs, clock: this.clock }),
    });
  }

  /** Keys currently tracked (for tests and metrics). */
  get trackedKeys(): number {
    return this.limiters.size;
  }

  async execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    const key = this.options.key?.(ctx.call) ?? '';
    let limiter = this.limiters.get(key);
    if (!limiter) {
      limiter = this.options.limiter();
      this.limiters.set(key, limiter);
    }
    const decision = limiter.tryAcquire(this.clock.now());
    if (!decision.ok) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `rate limit '${this.options.name}'${key ? ` for '${key}'` : ''} exceeded; retry in ${decision.retryAfterMs} ms`,
        { retryAfterMs: decision.retryAfterMs, details: { limit: this.options.name, key } },
      );
    }
    return fn(ctx);
  }
}
