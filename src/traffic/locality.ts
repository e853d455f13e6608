import { type Balancer, type CallOutcome, type Endpoint, type PickRequest, untried } from '../node/balancer.js';

export interface LocalityOptions {
  /** This node's id: an untried candidate with this id is preferred over all others. */
  localNodeId?: string;
  /** This node's zone: untried candidates whose `meta[zoneKey]` equals it come next. */
  localZone?: string;
  /** The metadata key holding an endpoint's zone (default `'zone'`). */
  zoneKey?: string;
  /** Set false to skip the same-node tier (e.g. when local calls bypass the balancer anyway). Default true. */
  preferLocalNode?: boolean;
}

/**
 * Locality preference on top of any balancer: the inner balancer picks among the first
 * non-empty tier of untried candidates: (1) this node, (2) this zone, (3) everyone.
 * A retry that excludes the local node therefore moves to the zone, then anywhere.
 * `onStart`/`onEnd` are forwarded unchanged.
 */
export class LocalityBalancer implements Balancer {
  readonly #inner: Balancer;
  readonly #options: LocalityOptions;

  constructor(inner: Balancer, options: LocalityOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  pick(candidates: readonly Endpoint[], request: PickRequest = {}): Endpoint {
    const list = untried(candidates, request);
    const { localNodeId, localZone, zoneKey = 'zone', preferLocalNode = true } = this.#options;
    if (preferLocalNode && localNodeId !== undefined) {
      const local = list.find((e) => e.nodeId === localNodeId);
      if (local) return local;
    }
    if (localZone !== undefined) {
      const zone = list.filter((e) => e.meta[zoneKey] === localZone);
      if (zone.length > 0) return this.#inner.pick(zone, request);
    }
    return this.#inner.pick(list, request);
  }

  onStart(endpoint: Endpoint, request: PickRequest): void {
    this.#inner.onStart?.(endpoint, request);
  }

  onEnd(endpoint: Endpoint, request: PickRequest, outcome: CallOutcome): void {
    this.#inner.onEnd?.(endpoint, request, outcome);
  }
}
