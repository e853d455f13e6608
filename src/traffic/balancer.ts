import type { ErrorCode } from '../wire/status.js';

/**
 * A place a call can go. `nodeId` identifies the node; `meta` is the node's advertised metadata.
 * Balancers read `meta.zone` (string, for locality) and `meta.weight` (positive number, default 1).
 */
export interface Endpoint {
  readonly nodeId: string;
  readonly meta: Readonly<Record<string, unknown>>;
}

/** What a balancer may look at when picking for one call attempt. */
export interface PickRequest {
  /** The call's params (the hash balancer can take its key from here). */
  readonly params?: unknown;
  /** The call's metadata (the hash balancer can take its key from here). */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** An explicit affinity key; takes precedence over keys derived from params/meta. */
  readonly key?: string;
  /**
   * nodeIds already tried by earlier attempts of this call. Balancers prefer endpoints outside
   * this set and fall back to the whole list only when every candidate was tried.
   */
  readonly exclude?: ReadonlySet<string>;
}

/** How one call attempt on an endpoint ended; fed back to load-aware balancers. */
export interface CallOutcome {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly code?: ErrorCode;
}

/**
 * A load-balancing strategy. `pick` is synchronous and pure with respect to the candidate list
 * (it never keeps the list); load-aware strategies keep per-nodeId state fed by `onStart` (the
 * attempt was sent to this endpoint) and `onEnd` (it finished). Every `onStart` must be matched
 * by exactly one `onEnd`, or in-flight counts drift.
 */
export interface Balancer {
  /** Returns undefined only when `candidates` is empty. */
  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint | undefined;
  onStart?(endpoint: Endpoint): void;
  onEnd?(endpoint: Endpoint, outcome: CallOutcome): void;
}

/**
 * The candidates not yet tried by this call, or all of them when every one was tried
 * (a retry prefers another node but never fails for lack of one).
 */
export function untried(candidates: readonly Endpoint[], request: PickRequest | undefined): readonly Endpoint[] {
  const exclude = request?.exclude;
  if (!exclude || exclude.size === 0) return candidates;
  const rest = candidates.filter((e) => !exclude.has(e.nodeId));
  return rest.length > 0 ? rest : candidates;
}

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
