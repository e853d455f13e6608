import { type Balancer, type Endpoint, type PickRequest, untried } from '../node/balancer.js';
import './call-options.js';
import { hash32 } from '../base/hash32.js';
import { randomIndex, weightOf } from './pick-helpers.js';

/** Where the affinity key comes from when the call gives no `hashKey`. */
export type HashKeySource =
  | { readonly meta: string }
  | { readonly param: string }
  | ((request: PickRequest) => string | undefined);

export interface ConsistentHashOptions {
  /**
   * `rendezvous` (default): highest random weight, O(n) per pick, moves exactly the keys of the
   * node that joins or leaves and needs no table. `ring`: a sorted ring of virtual nodes,
   * O(log(n·vnodes)) per pick; moves about 1/n of the keys (with spread that shrinks as vnodes grows).
   */
  algorithm?: 'rendezvous' | 'ring';
  /** Virtual nodes per unit of weight on the ring (default 160). */
  vnodes?: number;
  /** Where to read the key from (default: the call's `hashKey` option only). */
  key?: HashKeySource;
  /** Used to pick when a request carries no key. */
  random?: () => number;
}

/** Reads the affinity key of a request: the call's `hashKey` option, else the configured source. Non-strings are stringified. */
export function hashKeyOf(request: PickRequest | undefined, source: HashKeySource | undefined): string | undefined {
  if (!request) return undefined;
  const own = request.options?.hashKey;
  if (own !== undefined) return typeof own === 'string' ? own : String(own);
  if (!source) return undefined;
  let value: unknown;
  if (typeof source === 'function') value = source(request);
  else if ('meta' in source) value = request.meta?.[source.meta];
  else value = (request.params as Record<string, unknown> | undefined)?.[source.param];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : String(value);
}

/**
 * Consistent hashing: the same key goes to the same node while the node set is stable, and
 * adding or removing one of n nodes remaps only about 1/n of the keys. A retry (with `exclude`)
 * goes to the key's next choice, which is the node that would own the key if the tried one left.
 * Requests without a key are spread at random.
 */
export class ConsistentHashBalancer implements Balancer {
  readonly #algorithm: 'rendezvous' | 'ring';
  readonly #vnodes: number;
  readonly #key: HashKeySource | undefined;
  readonly #random: () => number;
  #ring: Ring | undefined;

  constructor(options: ConsistentHashOptions = {}) {
    this.#algorithm = options.algorithm ?? 'rendezvous';
    this.#vnodes = Math.max(1, Math.floor(options.vnodes ?? 160));
    this.#key = options.key;
    this.#random = options.random ?? Math.random;
  }

  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint {
    const list = untried(candidates, request);
    if (list.length <= 1) return list[0]!;
    const key = hashKeyOf(request, this.#key);
    if (key === undefined) return list[randomIndex(this.#random, list.length)]!;
    if (this.#algorithm === 'rendezvous') return rendezvous(list, key);
    // The ring is built over all candidates (not just the untried) so that excluding a node moves
    // only that node's keys; the walk skips the excluded ones.
    const ring = this.#ringFor(candidates);
    const allowed = list.length === candidates.length ? undefined : new Set(list.map((e) => e.nodeId));
    return ring.lookup(hash32(key), allowed) ?? list[0]!;
  }

  #ringFor(candidates: readonly Endpoint[]): Ring {
    const signature = candidates.map((e) => `${e.nodeId}\u0000${weightOf(e)}`).join('\u0001');
    if (this.#ring?.signature !== signature) this.#ring = new Ring(candidates, this.#vnodes, signature);
    return this.#ring;
  }
}

/**
 * Weighted rendezvous hashing: score = −weight / ln(u) with u = hash(key, node) in (0, 1);
 * the highest score wins. With equal weights this is plain highest-random-weight.
 */
function rendezvous(list: readonly Endpoint[], key: string): Endpoint {
  const keyHash = hash32(key);
  let best = list[0]!;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const endpoint of list) {
    const u = (hash32(endpoint.nodeId, keyHash) + 0.5) / 4294967296;
    const score = -weightOf(endpoint) / Math.log(u);
    if (score > bestScore || (score === bestScore && endpoint.nodeId < best.nodeId)) {
      bestScore = score;
      best = endpoint;
    }
  }
  return best;
}

/**
 * A hash ring: `points` sorted ascending, `owners[i]` the endpoint owning `points[i]`.
 * A key belongs to the first point ≥ its hash, wrapping to the first point.
 */
class Ring {
  readonly signature: string;
  readonly points: Uint32Array;
  readonly owners: Endpoint[];

  constructor(endpoints: readonly Endpoint[], vnodes: number, signature: string) {
    this.signature = signature;
    const entries: { point: number; owner: Endpoint }[] = [];
    for (const endpoint of endpoints) {
      const count = Math.max(1, Math.round(vnodes * weightOf(endpoint)));
      for (let i = 0; i < count; i++) entries.push({ point: hash32(`${endpoint.nodeId}#${i}`), owner: endpoint });
    }
    // Ties (hash collisions) are broken by nodeId so the ring does not depend on candidate order.
    entries.sort((a, b) => a.point - b.point || (a.owner.nodeId < b.owner.nodeId ? -1 : 1));
    this.points = Uint32Array.from(entries, (e) => e.point);
    this.owners = entries.map((e) => e.owner);
  }

  lookup(hash: number, allowed: ReadonlySet<string> | undefined): Endpoint | undefined {
    const n = this.points.length;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    for (let step = 0; step < n; step++) {
      const owner = this.owners[(lo + step) % n]!;
      if (!allowed || allowed.has(owner.nodeId)) return owner;
    }
    return undefined;
  }
}
