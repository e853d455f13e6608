// Public surface of traffic/: balancing strategies and resilience policies. See docs/TRAFFIC.md.
export { abortError, delay, linkedController } from '../base/abort.js';
export { type Backoff, constantBackoff, type ExponentialBackoffOptions, exponentialBackoff } from '../base/backoff.js';
export { type CancelTimer, type Clock, type Scheduler, systemTimer, type Timer } from '../base/clock.js';
export { seededRandom } from '../base/random.js';
export { BALANCER_NAMES, type BalancerName, type BalancerOptions, createBalancer } from './balancer-factory.js';
export {
  type BreakerRegistryOptions,
  breakerKey,
  CircuitBreakerRegistry,
  type RegistryBreakerOptions,
} from './breaker-registry.js';
export type { BreakerStrategy, CallSample, RateThresholds } from './breaker-strategy.js';
export { type BulkheadOptions, BulkheadPolicy } from './bulkhead.js';
export type { TrafficActionOptions, TrafficCallOptions } from './call-options.js';
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
  DEFAULT_FAILURE_CODES,
  isBrokenCircuit,
  type StateChange,
} from './circuit-breaker.js';
export {
  AimdLimit,
  type AimdOptions,
  type ConcurrencyLimit,
  GradientLimit,
  type GradientOptions,
} from './concurrency-limit.js';
export { type DeepPartial, mergeConfig } from './config-resolution.js';
export { ConsecutiveFailures } from './consecutive-breaker.js';
export {
  ConsistentHashBalancer,
  type ConsistentHashOptions,
  type HashKeySource,
  hashKeyOf,
} from './consistent-hash.js';
export { CountWindow } from './count-window-breaker.js';
export { type Disposable, Emitter, type Event } from './event.js';
export { type FallbackOptions, FallbackPolicy } from './fallback-policy.js';
export { type HedgingOptions, HedgingPolicy } from './hedging-policy.js';
export { IdempotencyPolicy, type IdempotencyPolicyOptions } from './idempotency-policy.js';
export {
  type IdempotencyStore,
  MemoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
  type StoredOutcome,
} from './idempotency-store.js';
export { LatencyQuantiles } from './latency-quantiles.js';
export { LeastOutstandingBalancer } from './least-outstanding.js';
export { LoadShedder, type LoadShedderOptions } from './load-shedder.js';
export { LocalityBalancer, type LocalityOptions } from './locality.js';
export { LruMap, type LruMapOptions } from './lru-map.js';
export { OutlierDetector, type OutlierOptions } from './outlier-detector.js';
export { PeakEwmaBalancer, type PeakEwmaOptions } from './peak-ewma.js';
export { weightOf } from './pick-helpers.js';
export {
  buildPipeline,
  CALLER_PIPELINE,
  type CallerStage,
  SERVER_PIPELINE,
  type ServerStage,
  type StageBuilders,
} from './pipeline.js';
export {
  type CallInfo,
  type ExecuteContext,
  invoke,
  noopPolicy,
  type Policy,
  type PolicyContext,
  toPolicyContext,
  wrap,
} from './policy.js';
export { RandomBalancer } from './random-balancer.js';
export { type RateLimitOptions, RateLimitPolicy } from './rate-limit-policy.js';
export { Gcra, type RateDecision, type RateLimiter, TokenBucket } from './rate-limiters.js';
export {
  type RetryBudget,
  RetryBudgetRegistry,
  TokenRetryBudget,
  type TokenRetryBudgetOptions,
} from './retry-budget.js';
export {
  type GiveUpEvent,
  type GiveUpReason,
  type RetryEvent,
  type RetryOptions,
  RetryPolicy,
} from './retry-policy.js';
export { TimeWindow } from './time-window-breaker.js';
export { type TimeoutOptions, TimeoutPolicy } from './timeout-policy.js';
export { createTraffic, Traffic, type TrafficConfig } from './traffic.js';
export {
  type BreakerConfig,
  type BulkheadConfig,
  type FallbackConfig,
  type HedgingConfig,
  type RateLimitConfig,
  type RetryConfig,
  resolvePolicies,
  type ServerPolicies,
  type SheddingConfig,
  type TrafficPolicies,
} from './traffic-config.js';
export { WeightedRoundRobinBalancer } from './weighted-round-robin.js';
