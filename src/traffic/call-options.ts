import type { BalancerName } from './balancer-factory.js';
import type { TrafficPolicies } from './traffic-config.js';

/** The call options the traffic layer reads, beside the node's own. */
export interface TrafficCallOptions {
  /** Per-call policies: the most specific level. Stateful policies (breakers, bulkheads, rate limits) stay per action. */
  readonly traffic?: TrafficPolicies;
  /** Shorthand for `traffic.idempotent`. */
  readonly idempotent?: boolean;
  /** The balancing strategy of this call (overrides the action's). */
  readonly strategy?: BalancerName;
  /** Affinity key of the `hash` strategy (overrides keys read from params or meta). */
  readonly hashKey?: string | number;
}

/** The action options the traffic layer reads: the action's own policies, from its service definition. */
export interface TrafficActionOptions {
  readonly traffic?: TrafficPolicies;
}

// Importing traffic makes its options part of the node's option types, checked by the compiler:
// `node.call('a.b', p, { strategy: 'ewma', hashKey: id })`, `actions: { get: { handler, traffic: {…} } }`.
declare module '../node/context.js' {
  interface CallOptionExtensions extends TrafficCallOptions {}
}
declare module '../node/service.js' {
  interface ActionOptionExtensions extends TrafficActionOptions {}
}
