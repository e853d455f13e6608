import type { Endpoint } from '../node/balancer.js';

/** Small helpers the balancing strategies share (the contract itself is `node/balancer.ts`). */

/** An endpoint's weight from `meta.weight`: a finite number > 0, otherwise 1. */
export function weightOf(endpoint: Endpoint): number {
  const w = endpoint.meta.weight;
  return typeof w === 'number' && Number.isFinite(w) && w > 0 ? w : 1;
}

/** Picks a uniformly random index in [0, n) from a `random()` in [0, 1). */
export function randomIndex(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

/**
 * Two distinct uniformly random indices in [0, n), n >= 2 (power of two choices):
 * the second is drawn from the n-1 others, so it never equals the first.
 */
export function twoDistinct(random: () => number, n: number): [number, number] {
  const a = randomIndex(random, n);
  let b = randomIndex(random, n - 1);
  if (b >= a) b++;
  return [a, b];
}
