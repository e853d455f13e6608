import { type Balancer, type Endpoint, type PickRequest, untried } from '../node/balancer.js';
import { weightOf } from './pick-helpers.js';

/**
 * Smooth weighted round robin (the nginx algorithm). Each pick, every candidate's `current` grows
 * by its weight; the largest `current` wins and gives back the sum of weights. Weights {5,1,1}
 * yield a a b a c a a: the heavy endpoint is spread out instead of picked in a burst.
 *
 * Invariant: over the candidates of one pick, the sum of `current` values is the same before and
 * after the pick (each pick adds `total` and subtracts `total`), so no endpoint drifts without bound
 * while the candidate list is stable. State for nodeIds that disappear is dropped at the next pick
 * once more than `2 × candidates` entries are held.
 */
export class WeightedRoundRobinBalancer implements Balancer {
  readonly #current = new Map<string, number>();

  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint {
    const list = untried(candidates, request);
    if (list.length === 1) return list[0]!;
    let total = 0;
    let best: Endpoint | undefined;
    let bestCurrent = Number.NEGATIVE_INFINITY;
    for (const endpoint of list) {
      const weight = weightOf(endpoint);
      const current = (this.#current.get(endpoint.nodeId) ?? 0) + weight;
      this.#current.set(endpoint.nodeId, current);
      total += weight;
      if (current > bestCurrent) {
        bestCurrent = current;
        best = endpoint;
      }
    }
    this.#current.set(best!.nodeId, bestCurrent - total);
    if (this.#current.size > 2 * candidates.length) this.#prune(candidates);
    return best!;
  }

  #prune(candidates: readonly Endpoint[]): void {
    const live = new Set(candidates.map((e) => e.nodeId));
    for (const id of [...this.#current.keys()]) if (!live.has(id)) this.#current.delete(id);
  }
}
