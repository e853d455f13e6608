import { type Clock, systemTimer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import { LruMap } from './lru-map.js';
import { type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export interface IdempotencyStoreOptions {
  /** How long a completed result is kept after completion, ms (default 60 000). */
  ttlMs?: number;
  /** Entries kept at most, least recently used dropped first (default 10 000). */
  maxSize?: number;
  /**
   * Failures that mean "not done, try again" and are not kept (default CANCELLED, UNAVAILABLE,
   * RESOURCE_EXHAUSTED, ABORTED): the next repeat runs the handler, and repeats that joined the
   * failed run start one of their own.
   */
  forgetCodes?: readonly ErrorCode[];
  clock?: Clock;
}

const FORGET_CODES: readonly ErrorCode[] = ['CANCELLED', 'UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'ABORTED'];

type Entry =
  | { readonly state: 'running'; readonly promise: Promise<unknown> }
  | { readonly state: 'done'; readonly ok: boolean; readonly value: unknown; readonly expiresAt: number };

/**
 * Server-side idempotency: the first call with a key runs; a repeat while it runs joins its
 * promise; a repeat after it finished gets the stored result (or the stored error) until `ttlMs`
 * after completion. Failures with a `forgetCodes` code are not kept: a repeat that joined such a
 * run starts its own (so a retry that joined an execution its first caller cancelled still runs),
 * and later repeats run again. As a Policy it uses `ctx.call.idempotencyKey` and runs calls without
 * one as is.
 * Weakness, by design of a bounded store: an entry dropped by the size bound (even a running one)
 * is forgotten, and a later repeat runs the handler again.
 */
export class IdempotencyStore implements Policy {
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #entries: LruMap<string, Entry>;
  readonly #forget: ReadonlySet<ErrorCode>;

  constructor(options: IdempotencyStoreOptions = {}) {
    this.#forget = new Set(options.forgetCodes ?? FORGET_CODES);
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#clock = options.clock ?? systemTimer;
    this.#entries = new LruMap({ maxSize: options.maxSize ?? 10_000 });
  }

  get size(): number {
    return this.#entries.size;
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const entry = this.#entries.get(key);
    if (entry?.state === 'running') {
      return (entry.promise as Promise<T>).catch((err: unknown) => {
        // The run we joined failed without doing the work (its entry is gone already): run our own.
        if (this.#forgets(err)) return this.run(key, fn);
        throw err;
      });
    }
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
      if (this.#entries.peek(key) !== running) return;
      if (!ok && this.#forgets(value)) this.#entries.delete(key);
      else this.#entries.set(key, { state: 'done', ok, value, expiresAt: this.#clock.now() + this.#ttlMs });
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

  #forgets(err: unknown): boolean {
    return err instanceof ParleyError && this.#forget.has(err.code);
  }
}
