import { type Clock, systemTimer } from '../base/clock.js';
import type { ParleyError } from '../wire/parley-error.js';
import { LruMap } from './lru-map.js';

/** How a call with an idempotency key ended: what a repeat of it is answered with. */
export type StoredOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: ParleyError };

/**
 * Where the server's idempotency stage keeps finished calls' outcomes, by key. The default is
 * `MemoryIdempotencyStore`, one per action on each serving node; a store shared by the serving
 * nodes (e.g. the replicated KV, `cluster/client/kv-idempotency-store.ts`) lets a retry that reaches
 * another node after the first one failed get the first outcome instead of running again.
 *
 * Contract: after `set(key, o, ttlMs)` has completed, `get(key)` answers `o` for at least `ttlMs`,
 * unless the store had to drop it (a bounded store may); both may answer synchronously. A store
 * shared by several actions is given keys that already name the action.
 */
export interface IdempotencyStore {
  get(key: string): StoredOutcome | undefined | Promise<StoredOutcome | undefined>;
  set(key: string, outcome: StoredOutcome, ttlMs: number): void | Promise<void>;
}

export interface MemoryIdempotencyStoreOptions {
  /** Entries kept at most, least recently used dropped first (default 10 000). */
  maxSize?: number;
  clock?: Clock;
}

/**
 * The in-process store: an LRU map of outcomes with their expiry, answering synchronously.
 * Invariant: `get` never answers an entry at or after its expiry (it is deleted then).
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #clock: Clock;
  readonly #entries: LruMap<string, { readonly outcome: StoredOutcome; readonly expiresAt: number }>;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    this.#clock = options.clock ?? systemTimer;
    this.#entries = new LruMap({ maxSize: options.maxSize ?? 10_000 });
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): StoredOutcome | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (this.#clock.now() < entry.expiresAt) return entry.outcome;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, outcome: StoredOutcome, ttlMs: number): void {
    this.#entries.set(key, { outcome, expiresAt: this.#clock.now() + ttlMs });
  }
}
