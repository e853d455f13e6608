import type { Clock } from '../base/clock.js';

export interface LruMapOptions {
  /** Entries kept at most; inserting beyond it drops the least recently used (default 10 000). */
  maxSize?: number;
  /** Entries not read or written for this long are treated as absent and dropped, ms (default: never). */
  idleTtlMs?: number;
  /** Needed only with `idleTtlMs`. */
  clock?: Clock;
}

/**
 * A Map bounded by size (least recently used goes first) and optionally by idle time. Used to
 * keep per-key state (rate-limit buckets, breakers, budgets) from growing without bound when
 * keys come from callers (user ids, node ids).
 *
 * Invariant: size ≤ maxSize; iteration order of the inner Map is least → most recently used.
 */
export class LruMap<K, V> {
  readonly #maxSize: number;
  readonly #idleTtlMs: number;
  readonly #clock: Clock | undefined;
  readonly #entries = new Map<K, { value: V; touched: number }>();

  constructor(options: LruMapOptions = {}) {
    this.#maxSize = Math.max(1, options.maxSize ?? 10_000);
    this.#idleTtlMs = options.idleTtlMs ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock;
    if (Number.isFinite(this.#idleTtlMs) && !this.#clock) throw new TypeError('LruMap: idleTtlMs needs a clock');
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = this.#now();
    if (now - entry.touched >= this.#idleTtlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    entry.touched = now;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Reads without refreshing recency (for inspection). */
  peek(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry || this.#now() - entry.touched >= this.#idleTtlMs) return undefined;
    return entry.value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, touched: this.#now() });
    this.#evict();
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Live entries, least recently used first. */
  *entries(): IterableIterator<[K, V]> {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (now - entry.touched < this.#idleTtlMs) yield [key, entry.value];
  }

  #evict(): void {
    // Idle entries first (they sit at the front, least recent), then by size.
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (now - entry.touched < this.#idleTtlMs && this.#entries.size <= this.#maxSize) break;
      this.#entries.delete(key);
    }
  }

  #now(): number {
    return this.#clock ? this.#clock.now() : 0;
  }
}
