/**
 * Exponential backoff with full jitter: delay n is uniform in [0, min(max, base * 2^n)].
 * Pure: randomness is injected so tests are deterministic.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RECONNECT_BACKOFF: BackoffOptions = { baseMs: 50, maxMs: 2000 };

export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
