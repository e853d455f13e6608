import type { Entry, Snapshot } from '../types.js';
import { invariant } from './errors.js';

/**
 * The tail of the log (and possibly a snapshot) not yet persisted: what the next Ready asks the
 * driver to write.
 *
 * Invariant: entries[i] has log index offset + i. If snapshot is set, offset = snapshot index + 1
 * at the time it was restored, and entries follow the snapshot.
 */
export class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** First index if a snapshot is pending, else null (the storage knows). */
  maybeFirstIndex(): number | null {
    return this.snapshot === null ? null : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? null : this.snapshot.metadata.index;
  }

  /** Term of index i if the unstable part knows it, else null. */
  maybeTerm(i: number): number | null {
    if (i < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return null;
    }
    const e = this.entries[i - this.offset];
    return e === undefined ? null : e.term;
  }

  /** Entries up to (i, t) are durable: drop them, unless the log was rewritten since (term mismatch). */
  stableTo(i: number, t: number): void {
    if (i < this.offset) return;
    const e = this.entries[i - this.offset];
    if (e === undefined || e.term !== t) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends `ents` (contiguous), replacing any existing entries at or after ents[0].index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0]!.index;
    const end = this.offset + this.entries.length;
    if (from === end) {
      for (const e of ents) this.entries.push(e);
    } else if (from <= this.offset) {
      // Replaces everything unstable (the stored log from `from` on is overwritten by the next Ready).
      this.offset = from;
      this.entries = ents.slice();
    } else {
      invariant(from < end, () => `gap in unstable log: appending ${from} after ${end - 1}`);
      this.entries = this.entries.slice(0, from - this.offset).concat(ents);
    }
  }

  /** Entries in [lo, hi); requires offset <= lo <= hi <= offset + entries.length. */
  slice(lo: number, hi: number): Entry[] {
    invariant(
      this.offset <= lo && lo <= hi && hi <= this.offset + this.entries.length,
      () => `unstable.slice(${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length}]`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
