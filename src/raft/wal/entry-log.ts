import { ParleyError } from '../../wire/parley-error.js';
import { raftError } from '../core/errors.js';
import type { Entry } from '../types.js';
import type { LogMark } from './record-payloads.js';

/**
 * The in-memory copy of the durable log that WalStorage serves reads from: every entry above
 * the compaction point `base`. Memory use is therefore all entries since the last compact()
 * (or received snapshot); the application bounds it by compacting after snapshots.
 *
 * Invariants: ents[i].index === base.index + 1 + i; term(base.index) === base.term.
 */
export class EntryLog {
  private base: LogMark;
  private ents: Entry[] = [];

  constructor(base: LogMark = { index: 0, term: 0 }) {
    this.base = base;
  }

  get compactedTo(): LogMark {
    return this.base;
  }

  firstIndex(): number {
    return this.base.index + 1;
  }

  lastIndex(): number {
    return this.base.index + this.ents.length;
  }

  term(index: number): number {
    if (index === this.base.index) return this.base.term;
    if (index < this.base.index) throw compacted(index, this.base.index);
    const e = this.ents[index - this.base.index - 1];
    if (e === undefined) throw unavailable(index, this.lastIndex());
    return e.term;
  }

  /** Entries in [lo, hi), at most maxBytes of data but always at least one if any. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.base.index) throw compacted(lo, this.base.index);
    if (hi > this.lastIndex() + 1) throw unavailable(hi - 1, this.lastIndex());
    if (lo >= hi) return [];
    const start = lo - this.base.index - 1;
    const end = hi - this.base.index - 1;
    if (maxBytes === Number.POSITIVE_INFINITY) return this.ents.slice(start, end);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = start; i < end; i++) {
      const e = this.ents[i]!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Appends contiguous `entries`. The first may be at any index in (base, lastIndex+1]:
   * entries at and above it are replaced (raft's conflicting-suffix overwrite).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    let first = entries[0]!.index;
    let from = 0;
    if (first <= this.base.index) {
      // Already covered by the compaction point (e.g. re-sent after a snapshot): skip those.
      from = this.base.index + 1 - first;
      if (from >= entries.length) return;
      first = this.base.index + 1;
    }
    if (first > this.lastIndex() + 1) {
      throw new ParleyError(
        'INTERNAL',
        `log append leaves a gap: first new index ${first}, last index ${this.lastIndex()}`,
      );
    }
    this.ents.length = first - this.base.index - 1;
    for (let i = from; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== this.base.index + 1 + this.ents.length) {
        throw new ParleyError('INTERNAL', `log append is not contiguous at index ${e.index}`);
      }
      this.ents.push(e);
    }
  }

  /** Drops entries <= index; `index` must be in [base.index, lastIndex()]. */
  compact(index: number): void {
    if (index <= this.base.index) return;
    if (index > this.lastIndex()) {
      throw new ParleyError('OUT_OF_RANGE', `cannot compact to ${index}: last index is ${this.lastIndex()}`);
    }
    const term = this.term(index);
    this.ents.splice(0, index - this.base.index);
    this.base = { index, term };
  }

  /** Replaces the whole log by an empty one whose base is `mark` (a received snapshot). */
  reset(mark: LogMark): void {
    this.base = mark;
    this.ents = [];
  }
}

/** Reading below the compaction point: the core's 'compacted' reason (OUT_OF_RANGE). */
export function compacted(index: number, base: number): ParleyError {
  return raftError('compacted', `log index ${index} is compacted (compacted through ${base})`);
}

/** Reading above the last index. */
export function unavailable(index: number, last: number): ParleyError {
  return raftError('unavailable', `log index ${index} is not available (last index ${last})`);
}
