import { ParleyError } from '../wire/parley-error.js';
import { byteString } from './bytes.js';
import { inRange, type KeyRange } from './key-range.js';
import { RECORD_OVERHEAD_BYTES } from './limits.js';
import type { KeyValue, KvEvent, RangeOptions, RangeResult } from './types.js';

/**
 * One stored revision of a key. `main` is the store revision of the write transaction, `sub`
 * its position within that transaction (etcd's main/sub revision). A tombstone records a delete.
 */
export interface KeyRecord {
  readonly main: number;
  readonly sub: number;
  readonly tombstone: boolean;
  readonly kv: KeyValue;
}

const EMPTY = new Uint8Array(0);

/**
 * Multi-version key index with one global revision.
 *
 * Invariants:
 * - `revision` is the revision of the last write transaction that changed something (0 when
 *   none); every such transaction gets exactly `revision + 1`.
 * - history.get(k) is non-empty and sorted by (main, sub); `keys` holds exactly the keys of
 *   `history`, sorted by byte order.
 * - Reads at a revision r with compactRevision <= r <= revision see the state after all
 *   records with main <= r. Compaction keeps, per key, the latest record at or below the
 *   compact revision unless it is a tombstone.
 * - sizeBytes = Σ over records (key + value + RECORD_OVERHEAD_BYTES).
 */
export class MvccStore {
  revision = 0;
  compactRevision = 0;
  sizeBytes = 0;
  private readonly history = new Map<string, KeyRecord[]>();
  private keys: string[] = [];
  /**
   * Every stored record as (key, index in its history) in (main, sub) order: the revision index
   * that lets a watcher behind on a wide range replay without scanning every key.
   * Invariant: exactly one entry per stored record, sorted by (main, sub).
   */
  private log: { readonly k: string; readonly main: number; readonly sub: number }[] = [];

  /** Starts a write transaction at revision + 1. Call `end()` (or `abort()`) before the next. */
  beginWrite(): WriteTxn {
    return new WriteTxn(this);
  }

  /** The latest record of `k` at or below `rev`, or undefined. */
  recordAt(k: string, rev: number): KeyRecord | undefined {
    const h = this.history.get(k);
    if (h === undefined) return undefined;
    for (let i = h.length - 1; i >= 0; i--) if (h[i]!.main <= rev) return h[i];
    return undefined;
  }

  /** The live value of `k` at `rev` (Infinity = latest, including an open write txn). */
  get(k: string, rev = Number.POSITIVE_INFINITY): KeyValue | undefined {
    const r = this.recordAt(k, rev);
    return r === undefined || r.tombstone ? undefined : r.kv;
  }

  /** OUT_OF_RANGE for a compacted or future revision; the details let a watcher resume correctly. */
  private revisionError(message: string): ParleyError {
    return new ParleyError('OUT_OF_RANGE', message, {
      details: { compactRevision: this.compactRevision, revision: this.revision },
    });
  }

  /** Fails with OUT_OF_RANGE unless compactRevision <= rev <= revision. 0 means the current revision. */
  checkReadRevision(rev: number): number {
    if (rev === 0) return this.revision;
    if (rev < this.compactRevision) {
      throw this.revisionError(`revision ${rev} has been compacted (compact revision ${this.compactRevision})`);
    }
    if (rev > this.revision) {
      throw this.revisionError(`revision ${rev} is a future revision (current revision ${this.revision})`);
    }
    return rev;
  }

  /** Keys of the index within `r`, in byte order (including keys deleted now but with history). */
  keysIn(r: KeyRange): string[] {
    if (r.single) return this.history.has(r.from) ? [r.from] : [];
    const out: string[] = [];
    for (let i = lowerBound(this.keys, r.from); i < this.keys.length; i++) {
      const k = this.keys[i]!;
      if (!inRange(r, k)) break;
      out.push(k);
    }
    return out;
  }

  /** Live kvs in `r` as of `rev` (Infinity = latest). */
  liveIn(r: KeyRange, rev = Number.POSITIVE_INFINITY): KeyValue[] {
    const out: KeyValue[] = [];
    for (const k of this.keysIn(r)) {
      const kv = this.get(k, rev);
      if (kv !== undefined) out.push(kv);
    }
    return out;
  }

  range(r: KeyRange, opts: RangeOptions = {}, inTxn = false): RangeResult {
    const rev = this.checkReadRevision(opts.revision ?? 0);
    // Inside a txn the latest state includes the txn's own earlier writes.
    let kvs = this.liveIn(r, inTxn && (opts.revision ?? 0) === 0 ? Number.POSITIVE_INFINITY : rev);
    const count = kvs.length;
    if (opts.countOnly === true) return { kvs: [], count, more: false, revision: this.revision };
    if (opts.sort !== undefined) kvs = sortKvs(kvs, opts.sort.target, opts.sort.order);
    const limit = opts.limit ?? 0;
    const more = limit > 0 && count > limit;
    if (more) kvs = kvs.slice(0, limit);
    if (opts.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
    return { kvs, count, more, revision: this.revision };
  }

  /**
   * Events in [from, to] within `r`, ordered by (revision, sub). When `maxEvents` is given, stops
   * after the revision in which the count reaches it (a revision is never split). Returns the
   * events and the last revision covered (to, or earlier when cut short).
   */
  eventsBetween(
    r: KeyRange,
    from: number,
    to: number,
    maxEvents = Number.POSITIVE_INFINITY,
  ): { events: KvEvent[]; through: number } {
    const found: { rec: KeyRecord; prev: KeyRecord | undefined }[] = [];
    if (r.single) {
      // One key: its own history is shorter than the global log.
      const h = this.history.get(r.from) ?? [];
      for (let i = 0; i < h.length; i++) {
        const rec = h[i]!;
        if (rec.main >= from && rec.main <= to) found.push({ rec, prev: i > 0 ? h[i - 1] : undefined });
      }
    } else {
      let lo = 0;
      let hi = this.log.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.log[mid]!.main < from) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < this.log.length; i++) {
        const e = this.log[i]!;
        if (e.main > to) break;
        if (!inRange(r, e.k)) continue;
        const h = this.history.get(e.k)!;
        const idx = findRecord(h, e.main, e.sub);
        found.push({ rec: h[idx]!, prev: idx > 0 ? h[idx - 1] : undefined });
        // Stop gathering once a whole revision beyond the cap has started.
        if (found.length > maxEvents && found[found.length - 2]!.rec.main !== e.main) break;
      }
    }
    found.sort((a, b) => a.rec.main - b.rec.main || a.rec.sub - b.rec.sub);
    const events: KvEvent[] = [];
    let through = to;
    for (let i = 0; i < found.length; i++) {
      const { rec, prev } = found[i]!;
      if (events.length >= maxEvents && rec.main !== found[i - 1]!.rec.main) {
        through = rec.main - 1;
        break;
      }
      events.push(toEvent(rec, prev));
    }
    return { events, through };
  }

  /**
   * Drops history below `rev`. Fails with OUT_OF_RANGE when rev <= compactRevision (already
   * compacted) or rev > revision (future).
   */
  compact(rev: number): void {
    if (rev <= this.compactRevision) {
      throw this.revisionError(`revision ${rev} has been compacted (compact revision ${this.compactRevision})`);
    }
    if (rev > this.revision) {
      throw this.revisionError(`cannot compact at future revision ${rev} (current revision ${this.revision})`);
    }
    const kept: string[] = [];
    for (const k of this.keys) {
      const h = this.history.get(k)!;
      let idx = -1;
      for (let i = h.length - 1; i >= 0; i--) {
        if (h[i]!.main <= rev) {
          idx = i;
          break;
        }
      }
      const cut = idx < 0 ? 0 : h[idx]!.tombstone ? idx + 1 : idx;
      for (let i = 0; i < cut; i++) this.sizeBytes -= recordSize(h[i]!);
      const rest = h.slice(cut);
      if (rest.length === 0) this.history.delete(k);
      else {
        this.history.set(k, rest);
        kept.push(k);
      }
    }
    this.keys = kept;
    this.rebuildLog();
    this.compactRevision = rev;
  }

  /** Every record of every key, keys in byte order (for snapshots). */
  *allRecords(): Generator<[string, readonly KeyRecord[]]> {
    for (const k of this.keys) yield [k, this.history.get(k)!];
  }

  /** Replaces the whole content (restore). Records must satisfy the class invariants. */
  load(revision: number, compactRevision: number, entries: Iterable<[string, KeyRecord[]]>): void {
    this.history.clear();
    this.keys = [];
    this.sizeBytes = 0;
    for (const [k, recs] of entries) {
      this.history.set(k, recs);
      this.keys.push(k);
      for (const r of recs) this.sizeBytes += recordSize(r);
    }
    this.keys.sort();
    this.rebuildLog();
    this.revision = revision;
    this.compactRevision = compactRevision;
  }

  /** @internal used by WriteTxn */
  appendRecord(k: string, rec: KeyRecord): void {
    const h = this.history.get(k);
    if (h === undefined) {
      this.history.set(k, [rec]);
      this.keys.splice(lowerBound(this.keys, k), 0, k);
    } else h.push(rec);
    this.log.push({ k, main: rec.main, sub: rec.sub });
    this.sizeBytes += recordSize(rec);
  }

  private rebuildLog(): void {
    this.log = [];
    for (const k of this.keys) for (const r of this.history.get(k)!) this.log.push({ k, main: r.main, sub: r.sub });
    this.log.sort((a, b) => a.main - b.main || a.sub - b.sub);
  }

  /** @internal undoes the last appendRecord of `k`. */
  popRecord(k: string): void {
    const h = this.history.get(k)!;
    const rec = h.pop()!;
    // Undo runs in reverse order, so the record is the log's last entry.
    const last = this.log.pop()!;
    if (last.k !== k || last.main !== rec.main || last.sub !== rec.sub) throw new Error('kv: undo out of order');
    this.sizeBytes -= recordSize(rec);
    if (h.length === 0) {
      this.history.delete(k);
      this.keys.splice(lowerBound(this.keys, k), 1);
    }
  }
}

/**
 * The writes of one transaction: all get main = revision + 1 and increasing subs. Every change
 * is recorded in an undo log so that a txn failing half-way leaves no trace (`abort`).
 */
export class WriteTxn {
  readonly main: number;
  private sub = 0;
  readonly events: KvEvent[] = [];
  private readonly undo: (() => void)[] = [];

  constructor(private readonly store: MvccStore) {
    this.main = store.revision + 1;
  }

  /** Registers an undo action for a change made outside the store (e.g. lease attachment). */
  onAbort(fn: () => void): void {
    this.undo.push(fn);
  }

  put(k: string, key: Uint8Array, value: Uint8Array, lease: number): { kv: KeyValue; prevKv: KeyValue | undefined } {
    const prev = this.store.get(k);
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev === undefined ? this.main : prev.createRevision,
      modRevision: this.main,
      version: prev === undefined ? 1 : prev.version + 1,
      lease,
    };
    this.store.appendRecord(k, { main: this.main, sub: this.sub++, tombstone: false, kv });
    this.undo.push(() => this.store.popRecord(k));
    this.events.push(prev === undefined ? { type: 'PUT', kv } : { type: 'PUT', kv, prevKv: prev });
    return { kv, prevKv: prev };
  }

  /** Deletes `k` if live; returns its previous value. */
  delete(k: string): KeyValue | undefined {
    const prev = this.store.get(k);
    if (prev === undefined) return undefined;
    const kv: KeyValue = {
      key: prev.key,
      value: EMPTY,
      createRevision: 0,
      modRevision: this.main,
      version: 0,
      lease: 0,
    };
    this.store.appendRecord(k, { main: this.main, sub: this.sub++, tombstone: true, kv });
    this.undo.push(() => this.store.popRecord(k));
    this.events.push({ type: 'DELETE', kv, prevKv: prev });
    return prev;
  }

  get changed(): boolean {
    return this.sub > 0;
  }

  /** Commits: the store revision becomes `main` if anything was written. */
  end(): KvEvent[] {
    if (this.changed) this.store.revision = this.main;
    return this.events;
  }

  abort(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
    this.undo.length = 0;
  }
}

/** Index of the record (main, sub) in a key's history (it must be there). */
function findRecord(h: readonly KeyRecord[], main: number, sub: number): number {
  let lo = 0;
  let hi = h.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = h[mid]!;
    if (r.main < main || (r.main === main && r.sub < sub)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toEvent(rec: KeyRecord, prev: KeyRecord | undefined): KvEvent {
  const prevKv = prev === undefined || prev.tombstone ? undefined : prev.kv;
  const type = rec.tombstone ? 'DELETE' : 'PUT';
  return prevKv === undefined ? { type, kv: rec.kv } : { type, kv: rec.kv, prevKv };
}

function recordSize(r: KeyRecord): number {
  return r.kv.key.length + r.kv.value.length + RECORD_OVERHEAD_BYTES;
}

export function lowerBound(arr: readonly string[], k: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortKvs(kvs: KeyValue[], target: string, order: string): KeyValue[] {
  const sign = order === 'descend' ? -1 : 1;
  const keyOf = (kv: KeyValue): number | string => {
    switch (target) {
      case 'version':
        return kv.version;
      case 'createRevision':
        return kv.createRevision;
      case 'modRevision':
        return kv.modRevision;
      case 'value':
        return byteString(kv.value);
      default:
        return byteString(kv.key);
    }
  };
  // Stable sort: ties keep key order.
  return [...kvs].sort((a, b) => {
    const x = keyOf(a);
    const y = keyOf(b);
    return x < y ? -sign : x > y ? sign : 0;
  });
}
