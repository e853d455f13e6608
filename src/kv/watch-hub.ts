import { ParleyError } from '../wire/parley-error.js';
import type { KvCaller } from './auth/auth-types.js';
import type { Bytes } from './bytes.js';
import { inRange, type KeyRange, keyRange } from './key-range.js';
import type { MvccStore } from './mvcc-store.js';
import type { KeyRangeSpec, KvEvent } from './types.js';

export interface WatchRequest {
  readonly range: KeyRangeSpec<Bytes>;
  /** First revision to deliver; 0 or absent = the next revision (only future writes). */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
  /**
   * Who watches (checked by the member before the watch starts, and again by `endDisallowed`
   * whenever the auth state changes); absent: the server itself.
   */
  readonly caller?: KvCaller;
}

export interface WatchPoll {
  readonly events: KvEvent[];
  /** Every revision up to this one has been examined for this watcher (a bookmark). */
  readonly revision: number;
  /** Set once when the watcher is cancelled by the hub; the watcher is then gone. */
  readonly canceled?: ParleyError;
}

interface Watcher {
  readonly id: number;
  readonly range: KeyRange;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly caller: KvCaller | undefined;
  /** Set when the auth state no longer allows the watch: its next poll ends it with this error. */
  ended: ParleyError | undefined;
  /** The first revision not yet examined. Synced iff nextRev === store.revision + 1. */
  nextRev: number;
  /** Matching events of revisions [queueFrom, nextRev), in order, not yet polled. */
  queue: KvEvent[];
  queueFrom: number;
}

/**
 * Watches fed by applied writes, independent of any transport: the consumer polls.
 *
 * Guarantees: events are delivered in (revision, sub) order, each once, whole revisions at a
 * time; a watcher resumes by watching again from (last revision seen + 1).
 *
 * A watcher is either *synced* (it has examined every applied revision; `onApplied` appends its
 * matching events to its queue) or *unsynced* (behind: `poll` reads the next chunk of history
 * from the store, at most `maxBacklog` events rounded up to a whole revision). Because apply and
 * poll run on one thread, a write that lands while a watcher catches up is either in the chunk
 * read from the store or, once synced, in the queue — never both, never neither: nextRev is
 * the single boundary.
 *
 * Slow consumers: when a synced watcher's queue exceeds `maxBacklog`, the queue is dropped and
 * the watcher becomes unsynced from the first revision it had not polled; it catches up from
 * the store's history. Memory per watcher is thus bounded. If compaction overtakes an unsynced
 * watcher, its next poll cancels it with OUT_OF_RANGE carrying `details.compactRevision`: the
 * client must re-read (range) and watch again from the read's revision + 1.
 */
export class WatchHub {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 1;
  private listener: ((id: number) => void) | undefined;

  private readonly maxBacklog: number;

  /** `maxBacklog` (≥ 1) bounds a synced watcher's queue and the size of each replay chunk. */
  constructor(
    private readonly store: MvccStore,
    maxBacklog = 1000,
  ) {
    this.maxBacklog = Math.max(1, Math.floor(maxBacklog));
  }

  /** Called (synchronously, after apply) when watcher `id` may have something to poll. */
  setListener(fn: ((id: number) => void) | undefined): void {
    this.listener = fn;
  }

  /**
   * Creates a watcher. A startRevision at or below the compact revision fails with
   * OUT_OF_RANGE (details.compactRevision): that history is gone.
   */
  watch(req: WatchRequest): number {
    const start = req.startRevision ?? 0;
    const nextRev = start === 0 ? this.store.revision + 1 : start;
    if (start !== 0 && start <= this.store.compactRevision) throw this.compacted(start);
    const id = this.nextId++;
    this.watchers.set(id, {
      id,
      range: keyRange(req.range),
      prevKv: req.prevKv === true,
      noPut: req.noPut === true,
      noDelete: req.noDelete === true,
      caller: req.caller,
      ended: undefined,
      nextRev,
      queue: [],
      queueFrom: nextRev,
    });
    return id;
  }

  cancel(id: number): boolean {
    return this.watchers.delete(id);
  }

  get size(): number {
    return this.watchers.size;
  }

  /** Takes the watcher's pending events. Unknown ids fail with NOT_FOUND. */
  poll(id: number): WatchPoll {
    const w = this.watchers.get(id);
    if (w === undefined) throw new ParleyError('NOT_FOUND', `watch ${id} not found`, { details: { watchId: id } });
    if (w.ended !== undefined) {
      this.watchers.delete(id);
      return { events: [], revision: w.nextRev - 1, canceled: w.ended };
    }
    if (w.queue.length > 0 || w.nextRev > this.store.revision) {
      const events = w.queue;
      w.queue = [];
      w.queueFrom = w.nextRev;
      return { events, revision: Math.min(w.nextRev - 1, this.store.revision) };
    }
    // Unsynced: read the next chunk of history.
    if (w.nextRev <= this.store.compactRevision) {
      this.watchers.delete(id);
      return { events: [], revision: w.nextRev - 1, canceled: this.compacted(w.nextRev) };
    }
    const { events, through } = this.store.eventsBetween(w.range, w.nextRev, this.store.revision, this.maxBacklog);
    w.nextRev = through + 1;
    w.queueFrom = w.nextRev;
    return { events: events.flatMap((e) => this.shape(w, e)), revision: through };
  }

  /**
   * After an auth change: every watcher whose caller `check` now refuses (it throws
   * UNAUTHENTICATED or PERMISSION_DENIED) drops what it queued, receives nothing more, and ends
   * with that error at its next poll. Events of revisions applied before the change were allowed
   * when they were queued, but are dropped with the rest: an ended watch delivers nothing.
   */
  endDisallowed(check: (caller: KvCaller, range: KeyRange) => void): void {
    for (const w of this.watchers.values()) {
      if (w.caller === undefined || w.caller.kind === 'server' || w.ended !== undefined) continue;
      try {
        check(w.caller, w.range);
      } catch (err) {
        w.ended = ParleyError.from(err);
        w.queue = [];
        this.listener?.(w.id);
      }
    }
  }

  /** True when the watcher has examined every applied revision. */
  isSynced(id: number): boolean {
    const w = this.watchers.get(id);
    return w !== undefined && w.nextRev > this.store.revision;
  }

  /** Feeds the events of one applied revision (the store is already at `revision`). */
  onApplied(revision: number, events: readonly KvEvent[]): void {
    for (const w of this.watchers.values()) {
      if (w.ended !== undefined) continue;
      if (w.nextRev !== revision) {
        if (w.nextRev < revision) this.listener?.(w.id);
        continue;
      }
      let added = false;
      for (const e of events) {
        if (!inRange(w.range, keyOf(e))) continue;
        for (const s of this.shape(w, e)) {
          w.queue.push(s);
          added = true;
        }
      }
      w.nextRev = revision + 1;
      if (w.queue.length > this.maxBacklog) {
        // Too slow: fall back to reading history from the store.
        w.queue = [];
        w.nextRev = w.queueFrom;
      }
      if (added) this.listener?.(w.id);
    }
  }

  private shape(w: Watcher, e: KvEvent): KvEvent[] {
    if ((e.type === 'PUT' && w.noPut) || (e.type === 'DELETE' && w.noDelete)) return [];
    if (!w.prevKv && e.prevKv !== undefined) return [{ type: e.type, kv: e.kv }];
    return [e];
  }

  private compacted(rev: number): ParleyError {
    const c = this.store.compactRevision;
    return new ParleyError(
      'OUT_OF_RANGE',
      `watch from revision ${rev}: history up to ${c} has been compacted; read again and watch from that read's revision + 1`,
      { details: { compactRevision: c } },
    );
  }
}

function keyOf(e: KvEvent): string {
  let s = '';
  for (const b of e.kv.key) s += String.fromCharCode(b);
  return s;
}
