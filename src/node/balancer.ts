import type { Meta } from '../wire/packets.js';
import type { ErrorCode } from '../wire/status.js';
import type { CallOptions } from './context.js';

/**
 * A node that can serve a call, with the metadata it publishes. Strategies read `meta.zone`
 * (string, for locality) and `meta.weight` (positive number, default 1).
 */
export interface Endpoint {
  readonly nodeId: string;
  readonly meta: Readonly<Record<string, unknown>>;
}

/** How one remote attempt ended, for load-aware balancers. */
export interface CallOutcome {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly code?: ErrorCode;
}

/**
 * What a balancer may read of the attempt it picks for. The node passes the `OutgoingCall` itself
 * (which is one); strategies used on their own may be given only the fields they read.
 */
export interface PickRequest {
  readonly action?: string;
  /** The call's params and meta (the hash strategy can take its key from them). */
  readonly params?: unknown;
  readonly meta?: Meta | null;
  /** The call's options (a strategy reads its own, e.g. traffic's `strategy` and `hashKey`). */
  readonly options?: CallOptions;
  /**
   * nodeIds already tried by earlier attempts of this call. Strategies prefer endpoints outside
   * this set and fall back to the whole list only when every candidate was tried (`untried`).
   */
  readonly exclude?: ReadonlySet<string>;
}

/**
 * Chooses one of the nodes that offer an action: the node's one contract for balancing, which
 * every strategy implements.
 *
 * - `pick` is synchronous and never keeps the list. The node has already preferred itself when it
 *   offers the action, and removed unavailable nodes and, unless that would leave none, excluded
 *   ones; `candidates` is never empty and `pick` returns one of them.
 * - `onStart(endpoint)` tells the balancer the attempt was sent to the endpoint it picked, at once
 *   (before `dispatch` returns); `onEnd` tells how it ended. The node calls each exactly once per
 *   remote attempt to a picked endpoint, never for a local run or a call to a given `nodeId`,
 *   so in-flight counts stay exact.
 */
export interface Balancer {
  pick(candidates: readonly Endpoint[], request: PickRequest): Endpoint;
  onStart?(endpoint: Endpoint, request: PickRequest): void;
  onEnd?(endpoint: Endpoint, request: PickRequest, outcome: CallOutcome): void;
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

/**
 * Round robin per action, the node's default: each action cycles through its untried candidates
 * in list order. With a stable list each endpoint gets every n-th pick; when the list changes the
 * cycle continues at `counter mod n` (no per-endpoint state to reconcile).
 *
 * Invariant: one counter per action name, below 1 000 000 007 (so the modulo stays exact).
 */
export class RoundRobinBalancer implements Balancer {
  private readonly counters = new Map<string, number>();

  pick(candidates: readonly Endpoint[], request: PickRequest): Endpoint {
    const list = untried(candidates, request);
    if (list.length === 1) return list[0]!;
    const action = request.action ?? '';
    const n = this.counters.get(action) ?? 0;
    this.counters.set(action, (n + 1) % 1_000_000_007);
    return list[n % list.length]!;
  }
}
