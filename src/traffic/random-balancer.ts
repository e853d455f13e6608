import { type Balancer, type Endpoint, type PickRequest, untried } from '../node/balancer.js';
import { randomIndex } from './pick-helpers.js';

/** Uniform random choice among the untried candidates. `random` is injectable for deterministic tests. */
export class RandomBalancer implements Balancer {
  readonly #random: () => number;

  constructor(options: { random?: () => number } = {}) {
    this.#random = options.random ?? Math.random;
  }

  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint {
    const list = untried(candidates, request);
    return list[randomIndex(this.#random, list.length)]!;
  }
}
