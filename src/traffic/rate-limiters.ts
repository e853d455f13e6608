/**
 * Rate limiters as pure functions of time: each `tryAcquire(now)` either admits (ok) or says how
 * long until it would (retryAfterMs). No timers.
 */
export interface RateDecision {
  readonly ok: boolean;
  /** When refused: milliseconds until a call would be admitted. 0 when admitted. */
  readonly retryAfterMs: number;
}

export interface RateLimiter {
  tryAcquire(now: number, cost?: number): RateDecision;
}

const ADMIT: RateDecision = Object.freeze({ ok: true, retryAfterMs: 0 });

/**
 * Token bucket: holds up to `capacity` tokens, refilled continuously at `ratePerSecond`; a call
 * takes `cost` tokens. Allows bursts of `capacity`, then the steady rate.
 *
 * Invariant: 0 <= tokens <= capacity.
 */
export class TokenBucket implements RateLimiter {
  private tokens: number;
  private last: number | undefined;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
  ) {
    if (!(ratePerSecond > 0) || !(capacity >= 1))
      throw new TypeError('TokenBucket needs ratePerSecond > 0 and capacity >= 1');
    this.tokens = capacity;
  }

  tryAcquire(now: number, cost = 1): RateDecision {
    if (this.last !== undefined && now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    }
    this.last = Math.max(now, this.last ?? now);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return ADMIT;
    }
    const missing = cost - this.tokens;
    return { ok: false, retryAfterMs: Math.ceil((missing * 1000) / this.ratePerSecond) };
  }
}

/**
 * Leaky bucket as a meter (GCRA): calls are spaced `1000 / ratePerSecond` ms apart on average, and
 * may run up to `burst` calls ahead of that schedule. One number of state (the theoretical
 * arrival time), so it is cheap to keep one per key.
 *
 * Invariant: tat >= the time of the last admitted call.
 */
export class Gcra implements RateLimiter {
  private tat = Number.NEGATIVE_INFINITY;
  private readonly interval: number;
  private readonly tolerance: number;

  constructor(ratePerSecond: number, burst = 1) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new TypeError('Gcra needs ratePerSecond > 0 and burst >= 1');
    this.interval = 1000 / ratePerSecond;
    this.tolerance = this.interval * (burst - 1);
  }

  tryAcquire(now: number, cost = 1): RateDecision {
    const tat = Math.max(this.tat, now);
    const next = tat + this.interval * cost;
    // Not `next - interval - tolerance`: (now + i) - i can round above now and refuse an idle key.
    const allowAt = tat + this.interval * (cost - 1) - this.tolerance;
    if (now < allowAt) return { ok: false, retryAfterMs: Math.ceil(allowAt - now) };
    this.tat = next;
    return ADMIT;
  }
}
