import type { Entry, Snapshot, Storage } from '../types.js';
import { invariant, raftError } from './errors.js';
import { limitSize } from './messages.js';
import { Unstable } from './unstable.js';

/**
 * The log as the core sees it: the durable part (Storage) followed by the unstable part.
 *
 * Invariants: applied <= committed <= lastIndex(); firstIndex() - 1 <= committed (a snapshot is
 * only installed when it is committed); entries below `committed` never change.
 */
export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(
    readonly storage: Storage,
    private readonly maxCommittedSizePerReady: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.termOrNull(this.lastIndex());
    invariant(t !== null, 'term of the last index is unknown');
    return t;
  }

  /** Term of entry i; null when i is compacted (below firstIndex - 1) or beyond lastIndex. */
  termOrNull(i: number): number | null {
    const u = this.unstable.maybeTerm(i);
    if (u !== null) return u;
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return null;
    if (i >= this.unstable.offset) return null;
    return this.storage.term(i);
  }

  matchTerm(i: number, t: number): boolean {
    return this.termOrNull(i) === t;
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Follower side of MsgApp: if our entry at `index` has term `logTerm`, append `ents` after it
   * (truncating a conflicting suffix), advance the commit index, and return the index of the last
   * new entry; otherwise return -1.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(ci > this.committed, () => `entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries that follow or overwrite the uncommitted tail; returns the new last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    invariant(after >= this.committed, () => `appending after ${after} is below committed ${this.committed}`);
    invariant(after <= this.lastIndex(), () => `appending after ${after} leaves a gap after ${this.lastIndex()}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * Index of the first entry of `ents` that is new or conflicts with the log (different term at
   * the same index); 0 if every entry is already present.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (fast back-off: the
   * follower's hint to the leader, and the leader's next probe). [index, 0] when unknown.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.termOrNull(index);
      if (t === null) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  commitTo(toCommit: number): void {
    if (toCommit <= this.committed) return;
    invariant(toCommit <= this.lastIndex(), () => `commit ${toCommit} is beyond the last index ${this.lastIndex()}`);
    this.committed = toCommit;
  }

  /** Commits maxIndex if it is above the commit index and its entry has `term`. */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrNull(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(
      i <= this.committed && i >= this.applied,
      () => `applied ${i} outside [${this.applied}, ${this.committed}]`,
    );
    this.applied = i;
  }

  /** Entries in [lo, hi), at most maxBytes (but at least one). Throws 'compacted' below firstIndex. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw raftError('compacted', `index ${lo} is compacted (first index ${first})`);
    invariant(hi <= this.lastIndex() + 1, () => `slice(${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    const off = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < off) {
      ents = this.storage.entries(lo, Math.min(hi, off), maxBytes);
      // The storage stopped early (size limit): do not add unstable entries after a gap.
      if (ents.length < Math.min(hi, off) - lo) return ents;
    }
    if (hi > off) {
      const u = this.unstable.slice(Math.max(lo, off), hi);
      ents = ents.length > 0 ? ents.concat(u) : u;
    }
    return limitSize(ents, maxBytes);
  }

  /** Entries from i to the end, at most maxBytes. */
  entries(i: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (i > last) return [];
    return this.slice(i, last + 1, maxBytes);
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** Committed entries not yet handed out for applying (none while a snapshot is pending). */
  nextCommittedEntries(): Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxCommittedSizePerReady);
  }

  hasNextCommittedEntries(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed >= Math.max(this.applied + 1, this.firstIndex());
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Installs a snapshot: the whole log is replaced; everything up to its index is committed. */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }
}
