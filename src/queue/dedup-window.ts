/**
 * Idempotent publish: which sequence each recent message id was stored under, remembered for
 * the stream's dedup window (docs/QUEUES.md, "Semantics"). A retried publish whose id is still
 * remembered gets the first sequence back instead of being stored twice.
 *
 * Time is the commands' `now` (and the stored messages' times), never a clock, so every replica
 * forgets the same ids at the same command. Entries are recorded in non-decreasing time order
 * (a message's time never decreases, message-log.ts), so a FIFO of (id, expiry) expires them
 * from its head.
 *
 * Invariants:
 * - `bySeq` holds exactly the ids of the live FIFO entries (from `head`), each once.
 * - Bounded: at most `maxEntries` ids; past it the oldest is forgotten before its window ends
 *   (and counted in `evictedEarly`), so memory stays bounded whatever the publish rate.
 * - An id is remembered while `now < expiresAt`; expiry never depends on anything but `now`.
 */

/** Most message ids remembered per partition by default. */
export const DEFAULT_MAX_DEDUP_ENTRIES = 500_000;

export class DedupWindow {
  private readonly bySeq = new Map<string, number>();
  private ids: string[] = [];
  private expiries: number[] = [];
  private head = 0;
  /** Ids forgotten before their window ended because the table was full. */
  evictedEarly = 0;

  constructor(private readonly maxEntries = DEFAULT_MAX_DEDUP_ENTRIES) {}

  get size(): number {
    return this.bySeq.size;
  }

  /** The sequence `msgId` was stored under, if remembered at `now`. */
  lookup(msgId: string, now: number): number | undefined {
    this.expire(now);
    return this.bySeq.get(msgId);
  }

  /** Remembers `msgId` → `seq` until `expiresAt` (a no-op when the window is 0, or the id is already known). */
  record(msgId: string, seq: number, expiresAt: number, now: number): void {
    this.expire(now);
    if (expiresAt <= now || this.bySeq.has(msgId)) return;
    if (this.bySeq.size >= this.maxEntries) {
      this.dropHead();
      this.evictedEarly++;
    }
    this.bySeq.set(msgId, seq);
    this.ids.push(msgId);
    // Kept non-decreasing, so the head is always the first to expire. After a window is lowered a
    // later id may be kept until the earlier ones expire: longer than its window, never shorter.
    const last = this.expiries.length > this.head ? this.expiries[this.expiries.length - 1]! : expiresAt;
    this.expiries.push(expiresAt > last ? expiresAt : last);
  }

  /** Forgets every id whose window ended at or before `now`. */
  expire(now: number): void {
    while (this.head < this.ids.length && this.expiries[this.head]! <= now) this.dropHead();
  }

  private dropHead(): void {
    this.bySeq.delete(this.ids[this.head]!);
    this.head++;
    if (this.head === this.ids.length) {
      this.ids = [];
      this.expiries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.expiries = this.expiries.slice(this.head);
      this.head = 0;
    }
  }

  /** For snapshots: [msgId, seq, expiresAt] oldest first. */
  dump(): [string, number, number][] {
    const rows: [string, number, number][] = [];
    for (let i = this.head; i < this.ids.length; i++) {
      const id = this.ids[i]!;
      rows.push([id, this.bySeq.get(id)!, this.expiries[i]!]);
    }
    return rows;
  }

  load(rows: readonly (readonly [string, number, number])[], evictedEarly = 0): void {
    this.bySeq.clear();
    this.ids = [];
    this.expiries = [];
    this.head = 0;
    for (const [id, seq, expiresAt] of rows) {
      if (this.bySeq.has(id)) continue;
      this.bySeq.set(id, seq);
      this.ids.push(id);
      const last = this.expiries.length > 0 ? this.expiries[this.expiries.length - 1]! : expiresAt;
      this.expiries.push(expiresAt > last ? expiresAt : last);
    }
    this.evictedEarly = evictedEarly;
  }
}
