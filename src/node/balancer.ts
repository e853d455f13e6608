import type { ErrorCode } from '../wire/status.js';
import type { OutgoingCall } from './middleware.js';

/** A node that can serve a call, with the metadata it publishes (e.g. `zone`, `weight`). */
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
 * Chooses one of the nodes that offer an action. The node has already preferred itself when it
 * offers the action locally, and has removed unavailable and excluded nodes from `candidates`
 * (which is never empty). `onStart`/`onEnd` bracket every remote attempt sent to the chosen
 * endpoint, exactly once each, so balancers can track in-flight calls and latency.
 */
export interface Balancer {
  pick(candidates: readonly Endpoint[], call: OutgoingCall): Endpoint;
  onStart?(endpoint: Endpoint, call: OutgoingCall): void;
  onEnd?(endpoint: Endpoint, call: OutgoingCall, outcome: CallOutcome): void;
}

/** Round-robin per action. */
export class RoundRobinBalancer implements Balancer {
  private readonly counters = new Map<string, number>();

  pick(candidates: readonly Endpoint[], call: OutgoingCall): Endpoint {
    if (candidates.length === 1) return candidates[0]!;
    const n = this.counters.get(call.action) ?? 0;
    this.counters.set(call.action, n + 1);
    return candidates[n % candidates.length]!;
  }
}
