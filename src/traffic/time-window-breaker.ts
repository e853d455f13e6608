import { type BreakerStrategy, type CallSample, exceeds, type RateThresholds } from './breaker-strategy.js';

interface Bucket {
  /** Start time of the bucket (a multiple of bucketMs), or −∞ when unused. */
  start: number;
  calls: number;
  failures: number;
  slow: number;
}

/**
 * Failure-rate and slow-call-rate over the last `windowMs` (to bucket granularity: calls in buckets
 * starting at or after `floor(now / bucketMs) · bucketMs − windowMs`), kept in `windowMs / bucketMs + 1` buckets.
 * A bucket older than the window is emptied (and its counts subtracted from the totals) when time
 * reaches it again, so memory is fixed and each record is O(buckets) at worst, O(1) usually.
 * Invariant: totals = sum of the buckets whose start is within [currentStart − windowMs, currentStart].
 */
export class TimeWindow implements BreakerStrategy {
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly #thresholds: RateThresholds;
  readonly #buckets: Bucket[];
  #calls = 0;
  #failures = 0;
  #slow = 0;

  constructor(options: RateThresholds & { windowMs?: number; bucketMs?: number } = {}) {
    this.windowMs = Math.max(1, options.windowMs ?? 10_000);
    this.bucketMs = Math.min(this.windowMs, Math.max(1, options.bucketMs ?? 1_000));
    this.#thresholds = options;
    // One extra bucket: the current one is partly filled, so full coverage of windowMs needs n + 1.
    const n = Math.ceil(this.windowMs / this.bucketMs) + 1;
    this.#buckets = Array.from({ length: n }, () => ({
      start: Number.NEGATIVE_INFINITY,
      calls: 0,
      failures: 0,
      slow: 0,
    }));
  }

  /** Totals over the window as of `now` (expires old buckets). */
  totals(now: number): { calls: number; failures: number; slow: number } {
    this.#expire(now);
    return { calls: this.#calls, failures: this.#failures, slow: this.#slow };
  }

  record(sample: CallSample, now: number): boolean {
    const bucket = this.#bucketAt(now);
    bucket.calls++;
    this.#calls++;
    if (sample.failure) {
      bucket.failures++;
      this.#failures++;
    }
    if (sample.slow) {
      bucket.slow++;
      this.#slow++;
    }
    return exceeds(this.#thresholds, this.#calls, this.#failures, this.#slow);
  }

  reset(): void {
    for (const b of this.#buckets) this.#clear(b);
    this.#calls = this.#failures = this.#slow = 0;
  }

  #bucketAt(now: number): Bucket {
    this.#expire(now);
    const start = Math.floor(now / this.bucketMs) * this.bucketMs;
    const bucket = this.#buckets[Math.floor(now / this.bucketMs) % this.#buckets.length]!;
    if (bucket.start !== start) {
      this.#drop(bucket);
      bucket.start = start;
    }
    return bucket;
  }

  #expire(now: number): void {
    const oldest = Math.floor(now / this.bucketMs) * this.bucketMs - (this.#buckets.length - 1) * this.bucketMs;
    for (const b of this.#buckets) if (b.start < oldest && b.calls > 0) this.#drop(b);
  }

  #drop(b: Bucket): void {
    this.#calls -= b.calls;
    this.#failures -= b.failures;
    this.#slow -= b.slow;
    this.#clear(b);
  }

  #clear(b: Bucket): void {
    b.start = Number.NEGATIVE_INFINITY;
    b.calls = b.failures = b.slow = 0;
  }
}
