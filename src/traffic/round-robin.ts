import { type Balancer, type Endpoint, type PickRequest, untried } from './balancer.js';

/**
 * Round robin: cycles through the candidates in list order. The cursor is one counter shared by
 * all calls, so with a stable list each endpoint gets every n-th pick; when the list changes the
 * cycle simply continues at `counter mod n` (no per-endpoint state to reconcile).
 */
export class RoundRobinBalancer implements Balancer {
  #counter = 0;

  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint | undefined {
    const list = untried(candidates, request);
    if (list.length === 0) return undefined;
    const endpoint = list[this.#counter % list.length];
    // Wrap well before 2^53 so the modulo stays exact.
    this.#counter = (this.#counter + 1) % 1_000_000_007;
    return endpoint;
  }
}
