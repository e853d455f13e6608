import type { OutgoingCall } from './middleware.js';

/**
 * Chooses one of the nodes that offer an action. The node has already preferred itself when it
 * offers the action locally, and has removed unavailable and excluded nodes from `candidates`.
 */
export interface Balancer {
  pick(action: string, candidates: readonly string[], call: OutgoingCall): string;
}

/** Round-robin per action. */
export class RoundRobinBalancer implements Balancer {
  private readonly counters = new Map<string, number>();

  pick(action: string, candidates: readonly string[]): string {
    if (candidates.length === 1) return candidates[0]!;
    const n = this.counters.get(action) ?? 0;
    this.counters.set(action, n + 1);
    return candidates[n % candidates.length]!;
  }
}
