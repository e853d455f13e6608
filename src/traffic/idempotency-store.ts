import { type Clock, systemTimer } from './clock.js';
import { LruMap } from './lru-map.js';
import { type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export interface IdempotencyStoreOptions {
  /** How long a completed result is kept after completion, ms (default 60 000). */
  ttlMs?: number;
  /** Entries kept at most, least recently used dropped first (default 10 000). */
  maxSize?: number;
  clock?: Clock;
}

type Entry =
  | { readonly state: 'running'; readonly promise: Promise<unknown> }
  | { readonly state: 'done'; readonly ok: boolean; readonly value: unknown; readonly expiresAt: number };

/**
 * Server-side idempotency: the first call with a key runs; a repeat while it runs joins its
 * promise; a repeat after it finished gets the stored result (or the stored error) until `ttlMs`
 * after completion. As a Policy it uses `ctx.call.idempotencyKey` and runs calls without one as is.
 * Weakness, by design of a bounded store: an entry dropped by the size bound (even a running one)
 * is forgotten, and a later repeat runs the handler again.
 */
export class IdempotencyStore implements Policy {
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #entries: LruMap<string, Entry>;

  constructor(options: IdempotencyStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#clock = options.clock ?? systemTimer;
    this.#entries = new LruMap({ maxSize: options.maxSize ?? 10_000 });
  }

  get size(): number {
    return this.#entries.size;
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const entry = this.#entries.get(key);
    if (entry?.state === 'running') return entry.promise as Promise<T>;
    if (entry?.state === 'done') {
      if (this.#clock.now() < entry.expiresAt) {
        return entry.ok ? Promise.resolve(entry.value as T) : Promise.reject(entry.value);
      }
      this.#entries.delete(key);
    }
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(fn());
    } catch (err) {
      promise = Promise.reject(err);
    }
    const running: Entry = { state: 'running', promise };
    this.#entries.set(key, running);
    const finish = (ok: boolean, value: unknown) => {
      // Store only if our entry is still the one in the map (not dropped and replaced meanwhile).
      if (this.#entries.peek(key) === running) {
        this.#entries.set(key, { state: 'done', ok, value, expiresAt: this.#clock.now() + this.#ttlMs });
      }
    };
    promise.then(
      (v) => finish(true, v),
      (e) => finish(false, e),
    );
    return promise;
  }

  execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    const key = ctx.call.idempotencyKey;
    return key === undefined ? fn(ctx) : this.run(key, () => fn(ctx));
  }
}
