import { abortError } from '../base/abort.js';
import { exponentialBackoff } from '../base/backoff.js';
import { liveTimer, type Timer } from '../base/clock.js';
import type { Balancer, CallOutcome, Endpoint, PickRequest } from '../node/balancer.js';
import type { CallOptions } from '../node/context.js';
import type { ActionInvoke, CallHandler, Middleware, MiddlewareHost, OutgoingCall } from '../node/middleware.js';
import type { Meta } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { BalancerOptions } from './balancer-factory.js';
import './call-options.js';
import { breakerKey, CircuitBreakerRegistry } from './breaker-registry.js';
import { CircuitBreaker, DEFAULT_FAILURE_CODES, type StateChange } from './circuit-breaker.js';
import type { HashKeySource } from './consistent-hash.js';
import { Emitter, type Event } from './event.js';
import { FallbackPolicy } from './fallback-policy.js';
import { HedgingPolicy } from './hedging-policy.js';
import { IdempotencyPolicy } from './idempotency-policy.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { LatencyQuantiles } from './latency-quantiles.js';
import { LruMap } from './lru-map.js';
import { OutlierDetector } from './outlier-detector.js';
import { buildPipeline, CALLER_PIPELINE } from './pipeline.js';
import { type CallInfo, type Policy, type PolicyContext, toPolicyContext, wrap } from './policy.js';
import { RetryBudgetRegistry, type TokenRetryBudgetOptions } from './retry-budget.js';
import { RetryPolicy } from './retry-policy.js';
import { StrategyBalancer } from './strategy-balancer.js';
import { TimeoutPolicy } from './timeout-policy.js';
import {
  breakerOptions,
  bulkheadPolicy,
  hashKeySource,
  rateLimitPolicy,
  resolvePolicies,
  serverPolicies,
  serviceOf,
  type TrafficPolicies,
} from './traffic-config.js';

export interface TrafficConfig {
  /** Node defaults for every action. */
  readonly defaults?: TrafficPolicies;
  /** Per target service, by service name. */
  readonly services?: Readonly<Record<string, TrafficPolicies>>;
  /** Per action, by full name (`'svc.action'`). Overrides what the service definition says. */
  readonly actions?: Readonly<Record<string, TrafficPolicies>>;
  /** The retry budget of each target service (gRPC A6; default 10 tokens, ratio 0.1). */
  readonly retryBudget?: TokenRetryBudgetOptions;
  /** Options of the balancing strategies (random source, ewma and hash settings, locality). */
  readonly balancer?: BalancerOptions;
  /**
   * Where the server's idempotency stage keeps outcomes, shared by every action this node serves
   * (keys are prefixed with the action name). Default: in memory, per action. A store shared by the
   * serving nodes (`KvIdempotencyStore`) makes a repeat that reaches another node after a failover
   * get the first outcome.
   */
  readonly idempotencyStore?: IdempotencyStore;
  /** Time source of every policy (default: the monotonic system clock, timers that keep the process alive). */
  readonly timer?: Timer;
  readonly random?: () => number;
}

/**
 * One attempt of a call, as traffic hands it to the node: the node's OutgoingCall plus what the
 * balancer needs of this call's history (`home`) and what the contract tells traffic back
 * (`endpoint`, set by the balancer's `onStart` when the node sends to a node it picked).
 */
class Attempt implements OutgoingCall {
  /** The endpoint the balancer picked and the node sent this attempt to; undefined for a local run or a given `nodeId`. */
  endpoint: Endpoint | undefined = undefined;

  constructor(
    readonly action: string,
    readonly params: unknown,
    readonly options: CallOptions,
    readonly meta: Meta | null,
    readonly deadline: number | undefined,
    readonly signal: AbortSignal | undefined,
    readonly exclude: ReadonlySet<string>,
    /** Keyed calls: the node of the first attempt, preferred while it passes the health filters. */
    readonly home: string | undefined,
  ) {}
}

/** Where one call's attempts went. Invariant: `home` (keyed calls only) is never in `tried`. */
interface CallRoute {
  readonly tried: Set<string>;
  home: string | undefined;
  readonly keyed: boolean;
}

/** What the caller side keeps per action, built once on first use. */
interface CallerPlan {
  readonly action: string;
  readonly policies: TrafficPolicies;
  readonly info: CallInfo;
  /** Where the hash strategy reads keys, from `hashOn`. */
  readonly hashKey: HashKeySource | undefined;
  /** The policies of CALLER_PIPELINE that are on, outermost first; the attempt runs inside. */
  readonly chain: Policy;
  /** Per-(action, node) breakers; undefined when the breaker scope is 'action' or breakers are off. */
  readonly nodeBreakers: CircuitBreakerRegistry | undefined;
  readonly outliers: OutlierDetector | undefined;
  /** Stateful parts a per-call plan reuses. */
  readonly shared: SharedParts;
}

interface SharedParts {
  readonly nodeBreakers: CircuitBreakerRegistry | undefined;
  readonly actionBreaker: CircuitBreaker | undefined;
  readonly bulkhead: Policy | undefined;
  readonly rateLimit: Policy | undefined;
  readonly quantiles: LatencyQuantiles;
}

const FAILURE_CODES: ReadonlySet<string> = new Set(DEFAULT_FAILURE_CODES);

/** An attempt outcome that says the node is unhealthy (feeds outlier ejection). */
function isNodeFailure(err: unknown): boolean {
  return FAILURE_CODES.has(ParleyError.from(err).code);
}

/**
 * Traffic management for one node: install both parts into the node.
 *
 *   const traffic = new Traffic({ defaults: { strategy: 'ewma', retry: { maxAttempts: 3 } } });
 *   const node = createNode({ id: 'a', ...traffic.nodeOptions });
 *   traffic.onBreakerStateChange((e) => console.log(e.breaker, e.from, '→', e.to));
 *
 * Caller side (the `call` middleware and the balancer), per call: the stages of CALLER_PIPELINE
 * (pipeline.ts, the one place the order is written) around the attempt, where each attempt asks the node to dispatch with `exclude` = nodes already tried (a call with an
 * idempotency key returns to its first node while that one is healthy); the balancer
 * drops nodes whose (action, node) breaker rejects and ejected outliers, then runs the strategy;
 * the attempt's result is fed to that node's breaker and the outlier detector.
 * Server side (the `action` middleware), per local action: the stages of SERVER_PIPELINE around the
 * handler.
 *
 * Policies resolve node default → service → action → call, once per action (cached); a call that
 * carries its own `traffic` options gets a plan of its own that shares the action's breakers,
 * bulkhead and rate limiter.
 */
export class Traffic {
  readonly middleware: Middleware;
  readonly balancer: Balancer;
  readonly #config: TrafficConfig;
  readonly #timer: Timer;
  readonly #plans = new LruMap<string, CallerPlan>({ maxSize: 10_000 });
  readonly #outliers = new Map<string, OutlierDetector | undefined>();
  readonly #budgets: RetryBudgetRegistry;
  readonly #breakerChanges = new Emitter<StateChange>();
  readonly #strategies: StrategyBalancer;

  /** Every breaker state change (per-node breakers are named `action@node`, per-action ones `action`). */
  readonly onBreakerStateChange: Event<StateChange> = this.#breakerChanges.event;

  constructor(config: TrafficConfig = {}) {
    this.#config = config;
    this.#timer = config.timer ?? liveTimer;
    this.#budgets = new RetryBudgetRegistry(config.retryBudget ?? {});
    this.#strategies = new StrategyBalancer({
      strategyOf: (action) => this.#plan(action).policies.strategy,
      optionsOf: (action) => {
        const key = this.#plan(action).hashKey;
        return key === undefined ? undefined : { hash: { ...config.balancer?.hash, key } };
      },
      balancer: { ...(config.random ? { random: config.random } : {}), clock: this.#timer, ...config.balancer },
    });
    this.middleware = {
      name: 'traffic',
      call: (next, host) => (call) => this.#call(call, next, host),
      action: (next, action) => this.#serve(next, action.name, action.service, action.options.traffic),
    };
    this.balancer = {
      pick: (candidates, request) => this.#pick(candidates, request),
      onStart: (endpoint, request) => {
        if (request instanceof Attempt) request.endpoint = endpoint;
        this.#strategies.onStart(endpoint, request);
      },
      onEnd: (endpoint, request, outcome: CallOutcome) => this.#strategies.onEnd(endpoint, request, outcome),
    };
  }

  /**
   * `createNode({ ...traffic.nodeOptions })`. With other middlewares, pass `middlewares: [...yours,
   * traffic.middleware]` and `balancer: traffic.balancer`: middlewares listed first run outside it.
   */
  get nodeOptions(): { middlewares: Middleware[]; balancer: Balancer } {
    return { middlewares: [this.middleware], balancer: this.balancer };
  }

  /** The resolved caller-side policies of an action (for inspection and tests). */
  policiesOf(action: string): TrafficPolicies {
    return this.#plan(action).policies;
  }

  /** The state of the breaker of `action` on `nodeId` (or of the action), 'closed' if it was never used. */
  breakerState(action: string, nodeId?: string): 'closed' | 'open' | 'half-open' {
    const plan = this.#plan(action);
    if (nodeId === undefined) return plan.shared.actionBreaker?.state ?? 'closed';
    return plan.nodeBreakers?.get(breakerKey(action, nodeId)).state ?? 'closed';
  }

  /** True when outlier detection has `nodeId` ejected for calls to `service`. */
  isEjected(service: string, nodeId: string): boolean {
    return this.#outlierDetector(service)?.isEjected(nodeId) ?? false;
  }

  // ---- caller side ----------------------------------------------------------------------

  #call(call: OutgoingCall, next: CallHandler, host: MiddlewareHost): Promise<unknown> {
    const plan = this.#planForCall(call);
    const route: CallRoute = { tried: new Set(), home: undefined, keyed: call.options.idempotencyKey !== undefined };
    const context = toPolicyContext({
      ...(call.signal ? { signal: call.signal } : {}),
      // The call's deadline is on the node's clock; the policies run on this layer's timer.
      deadline: call.deadline === undefined ? undefined : this.#timer.now() + (call.deadline - host.clock.now()),
      call: plan.info,
    });
    // While no policy replaced the signal, the attempt passes the caller's own (maybe none) to the node,
    // rather than the shared never-aborting placeholder every pending call would listen on.
    const attempt = (ctx: PolicyContext) =>
      this.#attempt(plan, call, next, route, ctx, ctx.signal === context.signal ? call.signal : ctx.signal, host);
    return plan.chain.execute(attempt, context);
  }

  /** One attempt: dispatch through the node (which picks via `#pick`), then feed the outcome to that node's health. */
  #attempt(
    plan: CallerPlan,
    call: OutgoingCall,
    next: CallHandler,
    route: CallRoute,
    ctx: PolicyContext,
    signal: AbortSignal | undefined,
    host: MiddlewareHost,
  ): Promise<unknown> {
    const deadline = ctx.deadline === undefined ? call.deadline : host.clock.now() + (ctx.deadline - this.#timer.now());
    // The dispatcher's rule: a node that hosts the action runs the call itself unless excluded.
    const runsHere =
      call.options.nodeId === undefined && !route.tried.has(host.nodeId) && host.servesLocally(call.action);
    const attempt = new Attempt(
      call.action,
      call.params,
      call.options,
      call.meta,
      deadline,
      signal,
      route.tried,
      route.home,
    );
    let promise = next(attempt).catch((err: unknown) => {
      // A timeout or a winning hedge aborts our signal; report why, not the generic CANCELLED the node saw.
      throw ctx.signal.aborted ? abortError(ctx.signal) : err;
    });
    // The node picks and sends synchronously: when next() returns, the balancer's onStart has told
    // us the endpoint if it picked one; otherwise the call went to its given nodeId, ran here, or
    // found no node (then there is nothing to remember).
    const picked = attempt.endpoint;
    const target = picked?.nodeId ?? call.options.nodeId ?? (runsHere ? host.nodeId : undefined);
    if (target === undefined) return promise;
    // A call with an idempotency key returns to the node of its first attempt while that node is
    // healthy: the node's idempotency store then joins or answers the repeat instead of running it again.
    if (route.keyed && route.home === undefined) route.home = target;
    if (target !== route.home) route.tried.add(target);
    // Node health covers only balanced attempts: a breaker consulted after an unbalanced send
    // (a local run, a call to a given nodeId) could only reject what was already done.
    if (picked === undefined) return promise;
    if (plan.nodeBreakers) {
      const sent = promise;
      promise = plan.nodeBreakers.get(breakerKey(call.action, target)).execute(() => sent);
    }
    const outliers = plan.outliers;
    if (outliers) {
      promise.then(
        () => outliers.record(target, true),
        (err: unknown) => {
          if (!ParleyError.is(err, 'CANCELLED')) outliers.record(target, !isNodeFailure(err));
        },
      );
    }
    return promise;
  }

  /** The balancer: drops nodes whose breaker rejects and ejected outliers, then runs the strategy. */
  #pick(candidates: readonly Endpoint[], call: PickRequest): Endpoint {
    const action = call.action ?? '';
    const plan = this.#plan(action);
    let list = candidates;
    const breakers = plan.nodeBreakers;
    if (breakers) {
      list = list.filter((e) => breakers.admits(breakerKey(action, e.nodeId)));
      if (list.length === 0) {
        throw new ParleyError(
          'UNAVAILABLE',
          `every node serving '${action}' has an open circuit breaker; calls are rejected until one recovers`,
          { details: { reason: 'circuit-open', breaker: action } },
        );
      }
    }
    if (plan.outliers) list = plan.outliers.filter(list);
    const home = call instanceof Attempt ? call.home : undefined;
    if (home !== undefined) {
      const endpoint = list.find((e) => e.nodeId === home);
      if (endpoint) return endpoint;
    }
    return this.#strategies.pick(list, call);
  }

  #planForCall(call: OutgoingCall): CallerPlan {
    const plan = this.#plan(call.action);
    const own = call.options.traffic;
    const idempotent = call.options.idempotent;
    if (own === undefined && idempotent === undefined) return plan;
    const policies = resolvePolicies(
      plan.policies,
      own,
      idempotent === undefined ? undefined : { idempotent: idempotent === true },
    );
    return this.#buildPlan(call.action, policies, plan.shared);
  }

  #plan(action: string): CallerPlan {
    let plan = this.#plans.get(action);
    if (!plan) {
      const c = this.#config;
      const policies = resolvePolicies(c.defaults, c.services?.[serviceOf(action)], c.actions?.[action]);
      plan = this.#buildPlan(action, policies, undefined);
      this.#plans.set(action, plan);
    }
    return plan;
  }

  #buildPlan(action: string, policies: TrafficPolicies, shared: SharedParts | undefined): CallerPlan {
    const timer = this.#timer;
    const service = serviceOf(action);
    const breaker = policies.breaker === false ? undefined : (policies.breaker ?? {});
    const scope = breaker?.scope ?? 'node';
    let parts = shared;
    if (!parts) {
      let nodeBreakers: CircuitBreakerRegistry | undefined;
      if (breaker && scope !== 'action') {
        nodeBreakers = new CircuitBreakerRegistry({ breaker: breakerOptions(breaker, timer), maxBreakers: 1000 });
        nodeBreakers.onStateChange((e) => this.#breakerChanges.fire(e));
      }
      let actionBreaker: CircuitBreaker | undefined;
      if (breaker && scope !== 'node') {
        const { strategy, ...rest } = breakerOptions(breaker, timer);
        actionBreaker = new CircuitBreaker({ ...rest, name: action, ...(strategy ? { strategy: strategy() } : {}) });
        actionBreaker.onStateChange((e) => this.#breakerChanges.fire(e));
      }
      parts = {
        nodeBreakers,
        actionBreaker,
        bulkhead: policies.bulkhead ? bulkheadPolicy(action, policies.bulkhead) : undefined,
        rateLimit: policies.rateLimit ? rateLimitPolicy(action, policies.rateLimit, timer) : undefined,
        quantiles: new LatencyQuantiles(),
      };
    }
    const random = this.#config.random;
    const budget = () => this.#budgets.for(service);
    const chain = buildPipeline(CALLER_PIPELINE, {
      fallback: () => {
        const f = policies.fallback;
        if (!f) return undefined;
        return asPolicy(
          new FallbackPolicy<unknown>({
            fallback: f.fn ?? (() => f.value),
            ...(f.codes ? { codes: f.codes } : {}),
            ...(f.onBrokenCircuit === undefined ? {} : { onBrokenCircuit: f.onBrokenCircuit }),
          }),
        );
      },
      retry: () => {
        if (policies.retry === false) return undefined;
        const r = policies.retry ?? {};
        return new RetryPolicy({
          timer,
          ...(random ? { random } : {}),
          ...(r.maxAttempts === undefined ? {} : { maxAttempts: r.maxAttempts }),
          ...(r.retryableCodes ? { retryableCodes: r.retryableCodes } : {}),
          backoff: exponentialBackoff({ initialMs: r.baseMs ?? 100, maxMs: r.maxMs ?? 10_000 }),
          ...(r.budget === false ? {} : { budget: budget() }),
        });
      },
      hedging: () => {
        const h = policies.hedging;
        if (!h || !policies.idempotent) return undefined;
        return new HedgingPolicy({
          timer,
          quantiles: parts.quantiles,
          ...(h.delayMs === undefined ? {} : { delayMs: h.delayMs }),
          ...(h.quantile === undefined ? {} : { quantile: h.quantile }),
          ...(h.maxHedges === undefined ? {} : { maxHedges: h.maxHedges }),
          ...(policies.retry === false || policies.retry?.budget === false ? {} : { budget: budget() }),
        });
      },
      'circuit-breaker': () => parts.actionBreaker,
      timeout: () =>
        typeof policies.timeout === 'number' && policies.timeout > 0
          ? new TimeoutPolicy({ ms: policies.timeout, timer })
          : undefined,
      bulkhead: () => parts.bulkhead,
      'rate-limit': () => parts.rateLimit,
    });
    return {
      action,
      policies,
      info: { service, action, idempotent: policies.idempotent === true },
      hashKey: policies.hashOn === undefined ? undefined : hashKeySource(policies.hashOn),
      chain: wrap(...chain),
      nodeBreakers: parts.nodeBreakers,
      outliers: this.#outlierDetector(service),
      shared: parts,
    };
  }

  /** One outlier detector per target service, configured node default → service. */
  #outlierDetector(service: string): OutlierDetector | undefined {
    if (this.#outliers.has(service)) return this.#outliers.get(service);
    const c = this.#config;
    const o = resolvePolicies(c.defaults, c.services?.[service]).outlier;
    const detector = o ? new OutlierDetector({ ...o, clock: this.#timer }) : undefined;
    this.#outliers.set(service, detector);
    return detector;
  }

  // ---- server side ----------------------------------------------------------------------

  /**
   * Wraps one local action's handler in its server policies (resolved once, when the service is
   * added). Node defaults do not apply to the node's own `$`-services (`$node.ping` must answer an
   * overloaded node's health check); configure those by service or action name if needed.
   */
  #serve(next: ActionInvoke, action: string, service: string, onDefinition: TrafficPolicies | undefined): ActionInvoke {
    const c = this.#config;
    const policies = resolvePolicies(
      service.startsWith('$') ? undefined : c.defaults,
      c.services?.[service],
      onDefinition,
      c.actions?.[action],
    );
    const list = serverPolicies(action, policies.server, this.#timer, c.idempotencyStore);
    if (list.length === 0) return next;
    const chain = wrap(...list);
    // Only the idempotency store (the default): calls without a key skip the chain entirely.
    const keyedOnly = list.length === 1 && list[0] instanceof IdempotencyPolicy;
    const needsSignal = policies.server?.bulkhead ? (policies.server.bulkhead.maxQueue ?? 0) > 0 : false;
    return (params, ctx) => {
      if (keyedOnly && ctx.idempotencyKey === undefined) return next(params, ctx);
      const info: CallInfo = {
        service,
        action,
        callerNodeId: ctx.callerId,
        meta: ctx.meta,
        ...(ctx.idempotencyKey === undefined ? {} : { idempotencyKey: ctx.idempotencyKey }),
        ...(ctx.priority === undefined ? {} : { priority: ctx.priority }),
      };
      return chain.execute(
        () => {
          try {
            return Promise.resolve(next(params, ctx));
          } catch (err) {
            return Promise.reject(err);
          }
        },
        needsSignal ? { signal: ctx.signal, call: info } : { call: info },
      );
    };
  }
}

/**
 * The fallback as a stage of the caller chain. A fallback turns an error into a value of its own
 * type; in a chain every result is `unknown` to the caller, so the value is a valid result there.
 */
function asPolicy(fallback: FallbackPolicy<unknown>): Policy {
  return { execute: (fn, context) => fallback.execute(fn, context) as Promise<never> };
}

/** Creates the traffic layer of one node; see `Traffic`. */
export function createTraffic(config: TrafficConfig = {}): Traffic {
  return new Traffic(config);
}
