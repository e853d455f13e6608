import { type Balancer, type Endpoint, type PickRequest, untried } from '../node/balancer.js';
import { twoDistinct } from './pick-helpers.js';

/**
 * Least outstanding requests by power of two choices: draw two distinct candidates at random and
 * take the one with fewer calls in flight (ties go to the first drawn). Sampling two instead of
 * scanning all keeps picks O(1) and avoids the herd effect of every caller choosing the same
 * "least loaded" node from stale counts.
 *
 * Invariant: `inflight(id)` = onStart(id) calls − onEnd(id) calls, never below 0.
 */
export class LeastOutstandingBalancer implements Balancer {
  readonly #random: () => number;
  readonly #inflight = new Map<string, number>();

  constructor(options: { random?: () => number } = {}) {
    this.#random = options.random ?? Math.random;
  }

  inflight(nodeId: string): number {
    return this.#inflight.get(nodeId) ?? 0;
  }

  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint {
    const list = untried(candidates, request);
    if (list.length <= 1) return list[0]!;
    const [i, j] = twoDistinct(this.#random, list.length);
    const a = list[i]!;
    const b = list[j]!;
    return this.inflight(b.nodeId) < this.inflight(a.nodeId) ? b : a;
  }

  onStart(endpoint: Endpoint, _request?: PickRequest): void {
    this.#inflight.set(endpoint.nodeId, this.inflight(endpoint.nodeId) + 1);
  }

  onEnd(endpoint: Endpoint, _request?: PickRequest): void {
    const n = this.inflight(endpoint.nodeId) - 1;
    if (n <= 0) this.#inflight.delete(endpoint.nodeId);
    else this.#inflight.set(endpoint.nodeId, n);
  }
}
