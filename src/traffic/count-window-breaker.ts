import { type BreakerStrategy, type CallSample, exceeds, type RateThresholds } from './breaker-strategy.js';

/**
 * Failure-rate and slow-call-rate over the last `size` calls (a ring buffer; the oldest sample's
 * counts are subtracted when it is overwritten, so each record is O(1)).
 * Invariant: failures and slow equal the counts over the `calls` newest samples; calls ≤ size.
 */
export class CountWindow implements BreakerStrategy {
  readonly size: number;
  readonly #thresholds: RateThresholds;
  readonly #ring: (CallSample | undefined)[];
  #next = 0;
  #calls = 0;
  #failures = 0;
  #slow = 0;

  constructor(options: RateThresholds & { size?: number } = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? 100));
    this.#thresholds = { ...options, minimumCalls: options.minimumCalls ?? Math.min(this.size, 10) };
    this.#ring = new Array(this.size).fill(undefined);
  }

  record(sample: CallSample): boolean {
    const old = this.#ring[this.#next];
    if (old) {
      if (old.failure) this.#failures--;
      if (old.slow) this.#slow--;
    } else {
      this.#calls++;
    }
    this.#ring[this.#next] = sample;
    this.#next = (this.#next + 1) % this.size;
    if (sample.failure) this.#failures++;
    if (sample.slow) this.#slow++;
    return exceeds(this.#thresholds, this.#calls, this.#failures, this.#slow);
  }

  reset(): void {
    this.#ring.fill(undefined);
    this.#next = this.#calls = this.#failures = this.#slow = 0;
  }
}
