import type { BreakerStrategy, CallSample } from './breaker-strategy.js';

/**
 * Opens after `threshold` failures in a row; any success resets the run.
 * Invariant: 0 ≤ run < threshold while closed.
 */
export class ConsecutiveFailures implements BreakerStrategy {
  readonly threshold: number;
  #run = 0;

  constructor(threshold = 5) {
    if (!(threshold >= 1)) throw new RangeError('threshold must be ≥ 1');
    this.threshold = threshold;
  }

  record(sample: CallSample): boolean {
    this.#run = sample.failure ? this.#run + 1 : 0;
    return this.#run >= this.threshold;
  }

  reset(): void {
    this.#run = 0;
  }
}
