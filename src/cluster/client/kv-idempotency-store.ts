import { type Clock, systemTimer } from '../../base/clock.js';
import type { IdempotencyStore, StoredOutcome } from '../../traffic/idempotency-store.js';
import { codecByName } from '../../wire/codec.js';
import { encodeError, errorFromBody, parseError } from '../../wire/packets.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { KvClient } from './kv-client.js';

export interface KvIdempotencyStoreOptions {
  /** Prefix of the KV keys the outcomes are kept under (default `$idempotency/`). */
  readonly prefix?: string;
  readonly clock?: Clock;
}

const codec = codecByName('msgpack');

/**
 * An idempotency store in the replicated KV, shared by every node that serves an action:
 * `createTraffic({ idempotencyStore: new KvIdempotencyStore(kv) })` on each serving node, and a
 * retry that reaches another node after the first one died gets the first outcome instead of
 * running the action again.
 *
 * Outcomes are msgpack `[1, value]` or `[0, error]` under `prefix + action/key`, attached to a
 * lease so the KV drops them by itself. One lease serves every outcome written during one window:
 * granted for 2 × ttl and used for writes during its first ttl, so each outcome lives between ttl
 * and 2 × ttl after it was written (a write per keyed call, a lease grant per window).
 *
 * Invariant: an outcome is written with a lease whose remaining life is at least `ttlMs`.
 */
export class KvIdempotencyStore implements IdempotencyStore {
  readonly #kv: KvClient;
  readonly #prefix: string;
  readonly #clock: Clock;
  /** Per ttl: the lease writes use until `usableUntil`. */
  readonly #leases = new Map<number, { readonly id: Promise<number>; readonly usableUntil: number }>();

  constructor(kv: KvClient, options: KvIdempotencyStoreOptions = {}) {
    this.#kv = kv;
    this.#prefix = options.prefix ?? '$idempotency/';
    this.#clock = options.clock ?? systemTimer;
  }

  async get(key: string): Promise<StoredOutcome | undefined> {
    const found = await this.#kv.get(this.#prefix + key);
    if (!found) return undefined;
    const decoded = codec.decode(found.value);
    if (!Array.isArray(decoded) || decoded.length !== 2) return undefined;
    return decoded[0] === 1
      ? { ok: true, value: decoded[1] }
      : { ok: false, error: errorFromBody(parseError(decoded[1])) };
  }

  async set(key: string, outcome: StoredOutcome, ttlMs: number): Promise<void> {
    const value = codec.encode(outcome.ok ? [1, outcome.value] : [0, encodeError(ParleyError.from(outcome.error))]);
    await this.#kv.put(this.#prefix + key, value, { lease: await this.#lease(ttlMs) });
  }

  #lease(ttlMs: number): Promise<number> {
    const now = this.#clock.now();
    const current = this.#leases.get(ttlMs);
    if (current && now < current.usableUntil) return current.id;
    const id = this.#kv.lease.grant(2 * ttlMs).then((l) => l.id);
    this.#leases.set(ttlMs, { id, usableUntil: now + ttlMs });
    // A failed grant is not kept: the next write asks again.
    id.catch(() => {
      if (this.#leases.get(ttlMs)?.id === id) this.#leases.delete(ttlMs);
    });
    return id;
  }
}
