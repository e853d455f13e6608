/** One finished call as the breaker sees it. */
export interface CallSample {
  readonly failure: boolean;
  /** Took at least the breaker's `slowCallMs`. */
  readonly slow: boolean;
}

/**
 * Decides when a closed breaker opens. The circuit breaker feeds it the calls that finish while
 * it is closed and calls `reset` each time it closes. Pure state; time only through `now`.
 */
export interface BreakerStrategy {
  /** Records a call; returns true when the breaker should open now. */
  record(sample: CallSample, now: number): boolean;
  /** Forget everything (the breaker just closed). */
  reset(now: number): void;
}

/** Thresholds shared by the sliding-window strategies. */
export interface RateThresholds {
  /** Open when failures / calls ≥ this, in (0, 1] (default 0.5). */
  failureRate?: number;
  /** Open when slow calls / calls ≥ this, in (0, 1] (default: off). */
  slowCallRate?: number;
  /** No decision below this many calls in the window (default 10). */
  minimumCalls?: number;
}

/** The decision the windowed strategies share: enough calls, and a rate at or over its threshold. */
export function exceeds(t: RateThresholds, calls: number, failures: number, slow: number): boolean {
  if (calls === 0 || calls < (t.minimumCalls ?? 10)) return false;
  if (failures / calls >= (t.failureRate ?? 0.5)) return true;
  return t.slowCallRate !== undefined && slow / calls >= t.slowCallRate;
}
