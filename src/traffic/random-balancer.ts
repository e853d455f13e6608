import { type Balancer, type Endpoint, type PickRequest, randomIndex, untried } from './balancer.js';

/** Uniform random choice among the untried candidates. `random` is injectable for deterministic tests. */
export class RandomBalancer implements Balancer {
  readonly #random: () => number;

  constructor(options: { random?: () => number } = {}) {
    this.#random = options.random ?? Math.random;
  }

  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint | undefined {
    const list = untried(candidates, request);
    if (list.length === 0) return undefined;
    return list[randomIndex(this.#random, list.length)];
  }
}
