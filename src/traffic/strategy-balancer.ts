import type { Balancer, CallOutcome, Endpoint, PickRequest } from '../node/balancer.js';
import { BALANCER_NAMES, type BalancerName, type BalancerOptions, createBalancer } from './balancer-factory.js';
import './call-options.js';

export interface StrategyBalancerOptions {
  /** The strategy when neither the call nor its action names one (default 'round-robin'). */
  readonly strategy?: BalancerName;
  /** Strategy per action name, e.g. `{ 'cache.get': 'hash' }`. */
  readonly actions?: Readonly<Record<string, BalancerName>>;
  /** The strategy of an action from elsewhere (e.g. resolved traffic config); consulted after `actions`. */
  readonly strategyOf?: (action: string) => BalancerName | undefined;
  /** Options of one action's strategy instances, merged over `balancer` (e.g. its hash key source). */
  readonly optionsOf?: (action: string) => BalancerOptions | undefined;
  /** Options passed to every strategy (clock, random, ewma, hash key source, locality). */
  readonly balancer?: BalancerOptions;
}

/**
 * The node's balancer, running the strategy each call asks for: the call's `strategy` option,
 * else the action's configured one, else the default. A call can also give `hashKey` for the
 * `hash` strategy. Each (strategy, action) pair has its own strategy instance, so in-flight counts
 * and latency averages are per action: a slow action on a node does not make it look slow for a
 * fast one.
 *
 *   createNode({ balancer: new StrategyBalancer({ strategy: 'ewma', actions: { 'cache.get': 'hash' } }) })
 *   node.call('user.get', { id }, { strategy: 'hash', hashKey: id })
 */
export class StrategyBalancer implements Balancer {
  private readonly instances = new Map<string, Balancer>();

  constructor(private readonly options: StrategyBalancerOptions = {}) {
    for (const name of [options.strategy, ...Object.values(options.actions ?? {})]) {
      if (name !== undefined) assertStrategy(name);
    }
  }

  pick(candidates: readonly Endpoint[], request: PickRequest): Endpoint {
    return this.instanceFor(request).pick(candidates, request);
  }

  onStart(endpoint: Endpoint, request: PickRequest): void {
    this.instanceFor(request).onStart?.(endpoint, request);
  }

  onEnd(endpoint: Endpoint, request: PickRequest, outcome: CallOutcome): void {
    this.instanceFor(request).onEnd?.(endpoint, request, outcome);
  }

  private instanceFor(request: PickRequest): Balancer {
    const action = request.action ?? '';
    const requested = request.options?.strategy;
    if (requested !== undefined) assertStrategy(requested);
    const name =
      requested ??
      this.options.actions?.[action] ??
      this.options.strategyOf?.(action) ??
      this.options.strategy ??
      'round-robin';
    const key = `${name}\u0000${action}`;
    let instance = this.instances.get(key);
    if (!instance) {
      const own = this.options.optionsOf?.(action);
      instance = createBalancer(name, own ? { ...this.options.balancer, ...own } : this.options.balancer);
      this.instances.set(key, instance);
    }
    return instance;
  }
}

function assertStrategy(name: unknown): asserts name is BalancerName {
  if (!(BALANCER_NAMES as readonly unknown[]).includes(name)) {
    throw new TypeError(`unknown balancing strategy '${String(name)}'; use one of ${BALANCER_NAMES.join(', ')}`);
  }
}
