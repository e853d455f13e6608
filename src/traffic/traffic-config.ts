import type { Timer } from '../base/clock.js';
import type { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import type { BalancerName } from './balancer-factory.js';
import type { RegistryBreakerOptions } from './breaker-registry.js';
import { BulkheadPolicy } from './bulkhead.js';
import { AimdLimit, type ConcurrencyLimit, GradientLimit } from './concurrency-limit.js';
import { type DeepPartial, mergeConfig } from './config-resolution.js';
import { ConsecutiveFailures } from './consecutive-breaker.js';
import type { HashKeySource } from './consistent-hash.js';
import { CountWindow } from './count-window-breaker.js';
import { IdempotencyPolicy } from './idempotency-policy.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { LoadShedder } from './load-shedder.js';
import type { OutlierOptions } from './outlier-detector.js';
import { buildPipeline, SERVER_PIPELINE } from './pipeline.js';
import type { CallInfo, Policy } from './policy.js';
import { RateLimitPolicy } from './rate-limit-policy.js';
import { Gcra, TokenBucket } from './rate-limiters.js';
import { TimeWindow } from './time-window-breaker.js';

/**
 * The traffic configuration as users write it. Every level (node default, service, action, call)
 * takes the same `TrafficPolicies` shape; `resolvePolicies` merges them, most specific winning.
 * A policy set to `false` is off at that level (a more specific level may turn it on again).
 */
export interface TrafficPolicies {
  /** Balancing strategy (caller side). */
  readonly strategy?: BalancerName;
  /**
   * Where the `hash` strategy reads a call's key when the call gives no `hashKey`: `'params.<name>'`
   * or `'meta.<name>'` (e.g. `'params.userId'`). Without either, keyless calls are spread at random.
   */
  readonly hashOn?: string;
  /** Repeating the call is harmless: enables retries of DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED and hedging. */
  readonly idempotent?: boolean;
  /** Time allowed per attempt, ms (caller side). The call's own deadline bounds all attempts together. */
  readonly timeout?: number | false;
  readonly retry?: RetryConfig | false;
  readonly breaker?: BreakerConfig | false;
  /** Caller-side bulkhead: attempts of this action in flight from this node. */
  readonly bulkhead?: BulkheadConfig | false;
  /** Caller-side rate limit on attempts sent. */
  readonly rateLimit?: RateLimitConfig | false;
  readonly fallback?: FallbackConfig | false;
  readonly hedging?: HedgingConfig | false;
  /** Outlier ejection of nodes serving a service (resolved per target service: node default → service). */
  readonly outlier?: Omit<OutlierOptions, 'clock'> | false;
  /** Policies of the serving side, applied to this node's own actions. */
  readonly server?: ServerPolicies;
}

export interface ServerPolicies {
  readonly rateLimit?: RateLimitConfig | false;
  readonly shedding?: SheddingConfig | false;
  readonly bulkhead?: BulkheadConfig | false;
  /**
   * Calls carrying an `idempotencyKey` run at most once per key per window (on by default); the
   * outcomes live in `TrafficConfig.idempotencyStore`, else in memory (`maxSize` entries per action).
   */
  readonly idempotency?: { readonly ttlMs?: number; readonly maxSize?: number } | false;
}

export interface RetryConfig {
  /** Attempts including the first (default 3, at most 10). */
  readonly maxAttempts?: number;
  /** First backoff, ms (default 100); doubles per attempt, full jitter. */
  readonly baseMs?: number;
  /** Longest backoff, ms (default 10 000). */
  readonly maxMs?: number;
  /** Codes retried for every call (default ['UNAVAILABLE']). */
  readonly retryableCodes?: readonly ErrorCode[];
  /** Spend from the target service's retry budget (default true). */
  readonly budget?: boolean;
}

export interface BreakerConfig {
  /** One breaker per (action, node) — an open one takes the node out of balancing — per action, or both (default 'node'). */
  readonly scope?: 'node' | 'action' | 'both';
  /** Opens after this many failures in a row (default 5), unless `window` is set. */
  readonly consecutiveFailures?: number;
  /** Judge failure and slow-call rates over the last `calls` calls or the last `ms` milliseconds instead. */
  readonly window?: { readonly calls: number } | { readonly ms: number };
  /** With `window`: open at this failure rate (default 0.5)… */
  readonly failureRate?: number;
  /** …or at this rate of calls slower than `slowCallMs` (default off). */
  readonly slowCallRate?: number;
  readonly slowCallMs?: number;
  /** With `window`: calls needed before rates are judged (default 10). */
  readonly minimumCalls?: number;
  /** First open period, ms (default 5 000); doubles per reopen up to `maxOpenMs` (60 000). */
  readonly openMs?: number;
  readonly maxOpenMs?: number;
  /** Probes admitted while half-open (default 3). */
  readonly halfOpenProbes?: number;
}

export interface BulkheadConfig {
  readonly maxConcurrent: number;
  /** Calls waiting for a slot (default 0); past it RESOURCE_EXHAUSTED at once. */
  readonly maxQueue?: number;
}

export interface RateLimitConfig {
  readonly ratePerSecond: number;
  /** Calls allowed at once above the rate (default 1). */
  readonly burst?: number;
  /** Default 'gcra' (one number per key); 'token-bucket' for a bucket of `burst` tokens. */
  readonly algorithm?: 'gcra' | 'token-bucket';
  /** What one limiter covers: the whole action (default), each caller node, or each value of a meta key. */
  readonly scope?: 'action' | 'caller' | { readonly meta: string };
}

export interface FallbackConfig {
  /** The value returned instead of the error… */
  readonly value?: unknown;
  /** …or a function of the error (takes precedence over `value`). */
  readonly fn?: (err: ParleyError) => unknown;
  /** Codes that trigger it (default UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). */
  readonly codes?: readonly ErrorCode[];
  /** Also while a breaker is open (default true). */
  readonly onBrokenCircuit?: boolean;
}

export interface HedgingConfig {
  /** Send another copy after this long, ms (default 100)… */
  readonly delayMs?: number;
  /** …or after this quantile of observed latencies (e.g. 0.95), once 20 are known. */
  readonly quantile?: number;
  /** Extra copies at most (default 1). */
  readonly maxHedges?: number;
}

export interface SheddingConfig {
  /** Adaptive limit algorithm (default 'aimd'). */
  readonly algorithm?: 'aimd' | 'gradient';
  readonly initial?: number;
  readonly min?: number;
  readonly max?: number;
  /** AIMD: a call slower than this counts as a drop, ms (default 5 000). */
  readonly slowMs?: number;
  /** Share of the limit each priority may fill (default [1, 0.9, 0.75, 0.5]). */
  readonly priorityShares?: readonly number[];
}

/**
 * Merges policy levels, least specific first (node default, service, action, call): the most
 * specific level that sets a value wins (see `mergeConfig` in config-resolution.ts).
 */
export function resolvePolicies(...levels: readonly (TrafficPolicies | undefined)[]): TrafficPolicies {
  let out: DeepPartial<TrafficPolicies> = {};
  for (const level of levels) out = mergeConfig(out, level as DeepPartial<TrafficPolicies> | undefined);
  return out as TrafficPolicies;
}

/** Parses `hashOn` ('params.x' / 'meta.x'); throws a TypeError naming the bad value. */
export function hashKeySource(hashOn: string): HashKeySource {
  const dot = hashOn.indexOf('.');
  const where = hashOn.slice(0, dot);
  const name = hashOn.slice(dot + 1);
  if (dot > 0 && name.length > 0) {
    if (where === 'params') return { param: name };
    if (where === 'meta') return { meta: name };
  }
  throw new TypeError(`hashOn '${hashOn}' must be 'params.<name>' or 'meta.<name>'`);
}

/** The service part of a full action name (`'math.add'` → `'math'`). */
export function serviceOf(action: string): string {
  const dot = action.lastIndexOf('.');
  return dot > 0 ? action.slice(0, dot) : action;
}

// ---- builders: config → policy instances -------------------------------------------------

export function breakerOptions(config: BreakerConfig, timer: Timer): RegistryBreakerOptions {
  const w = config.window;
  const rates = {
    ...(config.failureRate === undefined ? {} : { failureRate: config.failureRate }),
    ...(config.slowCallRate === undefined ? {} : { slowCallRate: config.slowCallRate }),
    ...(config.minimumCalls === undefined ? {} : { minimumCalls: config.minimumCalls }),
  };
  const strategy =
    w === undefined
      ? () => new ConsecutiveFailures(config.consecutiveFailures ?? 5)
      : 'calls' in w
        ? () => new CountWindow({ ...rates, size: w.calls })
        : () => new TimeWindow({ ...rates, windowMs: w.ms });
  return {
    strategy,
    clock: timer,
    ...(config.slowCallMs === undefined ? {} : { slowCallMs: config.slowCallMs }),
    ...(config.openMs === undefined ? {} : { openMs: config.openMs }),
    ...(config.maxOpenMs === undefined ? {} : { maxOpenMs: config.maxOpenMs }),
    ...(config.halfOpenProbes === undefined ? {} : { halfOpenProbes: config.halfOpenProbes }),
  };
}

export function rateLimitPolicy(name: string, config: RateLimitConfig, timer: Timer): RateLimitPolicy {
  const burst = config.burst ?? 1;
  const limiter =
    config.algorithm === 'token-bucket'
      ? () => new TokenBucket(config.ratePerSecond, burst)
      : () => new Gcra(config.ratePerSecond, burst);
  const scope = config.scope ?? 'action';
  const key: ((call: CallInfo) => string) | undefined =
    scope === 'action'
      ? undefined
      : scope === 'caller'
        ? (call) => call.callerNodeId ?? ''
        : (call) => String(call.meta?.[scope.meta] ?? '');
  return new RateLimitPolicy({
    name,
    limiter,
    clock: timer,
    idleTtlMs: 60_000,
    ...(key ? { key } : {}),
  });
}

export function bulkheadPolicy(name: string, config: BulkheadConfig): BulkheadPolicy {
  return new BulkheadPolicy({ name, maxConcurrent: config.maxConcurrent, maxQueue: config.maxQueue ?? 0 });
}

export function loadShedder(config: SheddingConfig, timer: Timer): LoadShedder {
  const bounds = {
    ...(config.initial === undefined ? {} : { initial: config.initial }),
    ...(config.min === undefined ? {} : { min: config.min }),
    ...(config.max === undefined ? {} : { max: config.max }),
  };
  const limit: ConcurrencyLimit =
    config.algorithm === 'gradient'
      ? new GradientLimit(bounds)
      : new AimdLimit({ ...bounds, ...(config.slowMs === undefined ? {} : { slowMs: config.slowMs }) });
  return new LoadShedder({
    limit,
    clock: timer,
    ...(config.priorityShares ? { priorityShares: config.priorityShares } : {}),
  });
}

/**
 * The server-side chain of one action, outermost first (SERVER_PIPELINE): rate limit → load
 * shedding → bulkhead → idempotency. Empty when every policy is off.
 */
export function serverPolicies(
  action: string,
  server: ServerPolicies | undefined,
  timer: Timer,
  store?: IdempotencyStore,
): Policy[] {
  return buildPipeline(SERVER_PIPELINE, {
    'rate-limit': () =>
      server?.rateLimit ? rateLimitPolicy(`${action} (server)`, server.rateLimit, timer) : undefined,
    'load-shedding': () => (server?.shedding ? loadShedder(server.shedding, timer) : undefined),
    bulkhead: () => (server?.bulkhead ? bulkheadPolicy(`${action} (server)`, server.bulkhead) : undefined),
    idempotency: () => {
      if (server?.idempotency === false) return undefined;
      const o = server?.idempotency ?? {};
      return new IdempotencyPolicy({
        clock: timer,
        ...(store ? { store, keyPrefix: `${action}/` } : {}),
        ...(o.ttlMs === undefined ? {} : { ttlMs: o.ttlMs }),
        ...(o.maxSize === undefined ? {} : { maxSize: o.maxSize }),
      });
    },
  });
}
