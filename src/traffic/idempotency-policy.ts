import type { Clock } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import { type IdempotencyStore, MemoryIdempotencyStore, type StoredOutcome } from './idempotency-store.js';
import { type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export interface IdempotencyPolicyOptions {
  /** How long a completed outcome is kept after completion, ms (default 60 000). */
  ttlMs?: number;
  /** Where outcomes are kept (default: a `MemoryIdempotencyStore` of `maxSize` entries). */
  store?: IdempotencyStore;
  /** Prefixed to every key given to `store` (a store shared by several actions needs it). */
  keyPrefix?: string;
  /** Entries of the default memory store (default 10 000). */
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

/**
 * The server's idempotency stage: the first call with a key runs; a repeat while it runs on this
 * node joins its promise; a repeat after it finished gets the stored result (or error) from the
 * store until `ttlMs` after completion. The outcome is stored before the caller is answered, so a
 * caller that saw the answer (or a retry of one that did not) finds it in the store. Failures with
 * a `forgetCodes` code are not kept: a repeat that joined such a run starts its own, and later
 * repeats run again. As a Policy it uses `ctx.call.idempotencyKey` and runs calls without one as is.
 *
 * Invariants: `running` holds exactly this node's runs whose handler has not settled (one per key);
 * a stored outcome is never a forgotten failure. Weaknesses: a run on another node is not joined
 * (a shared store only answers repeats after the first run finished), an outcome the store fails
 * to keep or drops (bounded memory) is forgotten, and a repeat then runs the handler again.
 */
export class IdempotencyPolicy implements Policy {
  readonly #ttlMs: number;
  readonly #store: IdempotencyStore;
  readonly #prefix: string;
  readonly #forget: ReadonlySet<ErrorCode>;
  readonly #running = new Map<string, Promise<unknown>>();

  constructor(options: IdempotencyPolicyOptions = {}) {
    this.#forget = new Set(options.forgetCodes ?? FORGET_CODES);
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#prefix = options.keyPrefix ?? '';
    this.#store =
      options.store ??
      new MemoryIdempotencyStore({
        ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }),
        ...(options.clock ? { clock: options.clock } : {}),
      });
  }

  /** Runs of this node in progress. */
  get running(): number {
    return this.#running.size;
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const joined = this.#join<T>(key, fn);
    if (joined) return joined;
    const stored = this.#store.get(this.#prefix + key);
    if (stored instanceof Promise) {
      return stored.then(
        (outcome) => (outcome ? replay<T>(outcome) : (this.#join<T>(key, fn) ?? this.#start(key, fn))),
        // A store that cannot answer must not block the call: run it (a repeat may then run twice).
        () => this.#join<T>(key, fn) ?? this.#start(key, fn),
      );
    }
    return stored ? replay<T>(stored) : this.#start(key, fn);
  }

  execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    const key = ctx.call.idempotencyKey;
    return key === undefined ? fn(ctx) : this.run(key, () => fn(ctx));
  }

  /** Joins this node's run of `key`, if one is in progress. */
  #join<T>(key: string, fn: () => Promise<T>): Promise<T> | undefined {
    const running = this.#running.get(key) as Promise<T> | undefined;
    return running?.catch((err: unknown) => {
      // The run we joined failed without doing the work (it is not stored): run our own.
      if (this.#forgets(err)) return this.run(key, fn);
      throw err;
    });
  }

  #start<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let handler: Promise<T>;
    try {
      handler = Promise.resolve(fn());
    } catch (err) {
      handler = Promise.reject(err);
    }
    const keep = (outcome: StoredOutcome): Promise<void> | undefined => {
      try {
        const stored = this.#store.set(this.#prefix + key, outcome, this.#ttlMs);
        return stored instanceof Promise ? stored.catch(() => {}) : undefined;
      } catch {
        return undefined; // not kept: a repeat runs again
      }
    };
    // A store that answers synchronously (memory) adds no wait; an asynchronous one is awaited.
    const done = handler.then(
      (value) => {
        const kept = keep({ ok: true, value });
        return kept ? kept.then(() => value) : value;
      },
      (err: unknown) => {
        const kept = this.#forgets(err) ? undefined : keep({ ok: false, error: ParleyError.from(err) });
        if (!kept) throw err;
        return kept.then(() => {
          throw err;
        });
      },
    );
    this.#running.set(key, done);
    const finish = () => {
      if (this.#running.get(key) === done) this.#running.delete(key);
    };
    done.then(finish, finish);
    return done;
  }

  #forgets(err: unknown): boolean {
    return err instanceof ParleyError && this.#forget.has(err.code);
  }
}

function replay<T>(outcome: StoredOutcome): Promise<T> {
  return outcome.ok ? Promise.resolve(outcome.value as T) : Promise.reject(outcome.error);
}
