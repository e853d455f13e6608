import type { CallRecord, TripStrategy } from './circuit-breaker.js';

/** Opens after `threshold` failures in a row (a success resets the count). Slow calls do not count. */
export class ConsecutiveFailures implements TripStrategy {
  private streak = 0;
  constructor(private readonly threshold: number) {
    if (!(threshold >= 1)) throw new TypeError('ConsecutiveFailures needs a threshold of at least 1');
  }
  record(call: CallRecord): void {
    this.streak = call.failed ? this.streak + 1 : 0;
  }
  shouldTrip(): boolean {
    return this.streak >= this.threshold;
  }
  reset(): void {
    this.streak = 0;
  }
}

export interface RateThresholds {
  /** Open when at least this fraction of the window failed (0–1). */
  readonly failureRate?: number;
  /** Open when at least this fraction of the window was slow (0–1). */
  readonly slowRate?: number;
  /** No decision before the window holds this many calls (default 10). */
  readonly minCalls?: number;
}

function exceeded(total: number, failed: number, slow: number, t: RateThresholds): boolean {
  if (total === 0 || total < (t.minCalls ?? 10)) return false;
  if (t.failureRate !== undefined && failed / total >= t.failureRate) return true;
  if (t.slowRate !== undefined && slow / total >= t.slowRate) return true;
  return false;
}

/**
 * Failure and slow-call rates over the last `size` calls (a ring buffer).
 * Invariant: failed and slow count exactly the flagged calls among the last min(size, seen) calls.
 */
export class CountWindow implements TripStrategy {
  private readonly ring: CallRecord[] = [];
  private next = 0;
  private failed = 0;
  private slow = 0;
  constructor(
    private readonly size: number,
    private readonly thresholds: RateThresholds,
  ) {
    if (!(size >= 1)) throw new TypeError('CountWindow needs a size of at least 1');
  }
  record(call: CallRecord): void {
    if (this.ring.length === this.size) {
      const old = this.ring[this.next]!;
      if (old.failed) this.failed--;
      if (old.slow) this.slow--;
      this.ring[this.next] = call;
      this.next = (this.next + 1) % this.size;
    } else this.ring.push(call);
    if (call.failed) this.failed++;
    if (call.slow) this.slow++;
  }
  shouldTrip(): boolean {
    return exceeded(this.ring.length, this.failed, this.slow, this.thresholds);
  }
  reset(): void {
    this.ring.length = 0;
    this.next = 0;
    this.failed = 0;
    this.slow = 0;
  }
}

/**
 * Failure and slow-call rates over the last `windowMs`, kept in `buckets` time slices so memory
 * is constant however many calls there are.
 */
export class TimeWindow implements TripStrategy {
  private readonly slices: { start: number; total: number; failed: number; slow: number }[] = [];
  private readonly sliceMs: number;
  constructor(
    private readonly windowMs: number,
    private readonly thresholds: RateThresholds,
    buckets = 10,
  ) {
    if (!(windowMs > 0) || !(buckets >= 1)) throw new TypeError('TimeWindow needs windowMs > 0 and buckets >= 1');
    this.sliceMs = windowMs / buckets;
  }
  record(call: CallRecord, now: number): void {
    this.expire(now);
    const start = Math.floor(now / this.sliceMs) * this.sliceMs;
    let slice = this.slices[this.slices.length - 1];
    if (!slice || slice.start !== start) {
      slice = { start, total: 0, failed: 0, slow: 0 };
      this.slices.push(slice);
    }
    slice.total++;
    if (call.failed) slice.failed++;
    if (call.slow) slice.slow++;
  }
  shouldTrip(now: number): boolean {
    this.expire(now);
    let total = 0;
    let failed = 0;
    let slow = 0;
    for (const s of this.slices) {
      total += s.total;
      failed += s.failed;
      slow += s.slow;
    }
    return exceeded(total, failed, slow, this.thresholds);
  }
  reset(): void {
    this.slices.length = 0;
  }
  private expire(now: number): void {
    while (this.slices.length > 0 && this.slices[0]!.start + this.sliceMs <= now - this.windowMs) this.slices.shift();
  }
}
