import type { BreakerStrategy } from './breaker-strategy.js';
import { CircuitBreaker, type CircuitBreakerOptions, type StateChange } from './circuit-breaker.js';
import { Emitter, type Event } from './event.js';
import { LruMap } from './lru-map.js';

/** The registry key of the breaker for an action on one node, or for the action as a whole. */
export function breakerKey(action: string, nodeId?: string): string {
  return nodeId === undefined ? action : `${action}@${nodeId}`;
}

/** Options of a breaker made by the registry: as CircuitBreakerOptions, but `strategy` is a factory (strategies hold state, one each). */
export type RegistryBreakerOptions = Omit<CircuitBreakerOptions, 'name' | 'strategy'> & {
  strategy?: () => BreakerStrategy;
};

export interface BreakerRegistryOptions {
  /** Options for each new breaker (its `name` is the key); or a function of the key for per-key settings. */
  breaker?: RegistryBreakerOptions | ((key: string) => RegistryBreakerOptions);
  /** Breakers kept at most; the least recently used closed breaker goes first (default 10 000). */
  maxBreakers?: number;
}

/**
 * Circuit breakers by key, created on first use: one per (action, node) so a balancer can skip the
 * nodes whose breaker is open, and/or one per action. Open breakers are never evicted while open
 * (forgetting one would send traffic to a broken node at once); closed ones are dropped least
 * recently used first when over `maxBreakers`.
 */
export class CircuitBreakerRegistry {
  readonly #options: BreakerRegistryOptions;
  readonly #breakers: LruMap<string, CircuitBreaker>;
  readonly #maxBreakers: number;
  readonly #onStateChange = new Emitter<StateChange>();
  /** State changes of every breaker in the registry. */
  readonly onStateChange: Event<StateChange> = this.#onStateChange.event;

  constructor(options: BreakerRegistryOptions = {}) {
    this.#options = options;
    this.#maxBreakers = options.maxBreakers ?? 10_000;
    // The LRU's own bound is a backstop only; `#evictClosed` keeps the size, sparing open breakers.
    this.#breakers = new LruMap({ maxSize: this.#maxBreakers * 2 });
  }

  get size(): number {
    return this.#breakers.size;
  }

  get(key: string): CircuitBreaker {
    let breaker = this.#breakers.get(key);
    if (!breaker) {
      const o = this.#options.breaker;
      const { strategy, ...rest } = (typeof o === 'function' ? o(key) : o) ?? {};
      breaker = new CircuitBreaker({ ...rest, name: key, strategy: strategy?.() });
      breaker.onStateChange((e) => this.#onStateChange.fire(e));
      this.#breakers.set(key, breaker);
      if (this.#breakers.size > this.#maxBreakers) this.#evictClosed();
    }
    return breaker;
  }

  /** True unless the breaker for `key` exists and would reject a call now (open, or half-open with every probe slot taken). Never creates one. */
  admits(key: string): boolean {
    return this.#breakers.peek(key)?.admits() ?? true;
  }

  #evictClosed(): void {
    for (const [key, breaker] of this.#breakers.entries()) {
      if (this.#breakers.size <= this.#maxBreakers) return;
      if (breaker.state === 'closed') this.#breakers.delete(key);
    }
  }
}
