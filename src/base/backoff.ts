/** How long to wait before a retry. Stateless: the same inputs give the same delay. */
export interface Backoff {
  /** Delay before retry number `retry` (1 = the first retry), given a `random()` in [0, 1). */
  delayMs(retry: number, random: () => number): number;
}

export interface ExponentialBackoffOptions {
  /** Cap of the first retry's delay, ms (default 100). */
  initialMs?: number;
  /** Largest cap, ms (default 10 000). */
  maxMs?: number;
  /** Growth per retry (default 2). */
  multiplier?: number;
  /**
   * `full` (default): uniform in [0, cap), which spreads a crowd of retrying callers best (AWS
   * "Exponential Backoff and Jitter"). `none`: exactly the cap, for tests and tooling.
   */
  jitter?: 'full' | 'none';
}

/** Exponential backoff: cap = min(maxMs, initialMs · multiplier^(retry−1)), then jitter. */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? 100;
  const maxMs = options.maxMs ?? 10_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = options.jitter ?? 'full';
  return {
    delayMs(retry, random) {
      const cap = Math.min(maxMs, initialMs * multiplier ** Math.max(0, retry - 1));
      return jitter === 'full' ? random() * cap : cap;
    },
  };
}

/** The same delay before every retry. */
export function constantBackoff(ms: number): Backoff {
  return { delayMs: () => ms };
}

/** The reconnect/redial form: `attempt` counts from 0; delay uniform in [0, min(maxMs, baseMs · 2^attempt)). */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Redial backoff of the mesh and discovery (full jitter, whole milliseconds). */
export const DEFAULT_RECONNECT_BACKOFF: BackoffOptions = { baseMs: 50, maxMs: 2000 };

/** Delay before redial number `attempt` (0 = the first), whole milliseconds. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const curve = exponentialBackoff({ initialMs: options.baseMs, maxMs: options.maxMs });
  return Math.floor(curve.delayMs(Math.min(attempt, 30) + 1, random));
}
