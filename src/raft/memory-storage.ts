import { invariant, raftError } from './core/errors.js';
import { limitSize } from './core/messages.js';
import type { PersistentLog } from './driver.js';
import type { ConfState, Entry, HardState, Snapshot, Storage } from './types.js';

const EMPTY_CONF: ConfState = { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };

/**
 * Storage held in memory, with the same contract as the WAL (tests, the simulator, in-process
 * benchmarks). Everything saved counts as durable.
 *
 * Invariant: ents[0] is a placeholder carrying the snapshot's (index, term); ents[i] has index
 * ents[0].index + i. So firstIndex() = snapshot index + 1 and term(snapshot index) is known.
 */
export class MemoryStorage implements Storage, PersistentLog {
  private hard: HardState = { term: 0, vote: null, commit: 0 };
  private snap: Snapshot = { metadata: { index: 0, term: 0, confState: EMPTY_CONF }, data: new Uint8Array(0) };
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: new Uint8Array(0) }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snap.metadata.confState };
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw raftError('compacted', `index ${i} is compacted (first index ${offset + 1})`);
    if (i > this.lastIndex()) throw raftError('unavailable', `index ${i} is beyond the last index ${this.lastIndex()}`);
    return this.ents[i - offset]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw raftError('compacted', `index ${lo} is compacted (first index ${offset + 1})`);
    if (hi > this.lastIndex() + 1) {
      throw raftError('unavailable', `entries up to ${hi - 1} requested; the last index is ${this.lastIndex()}`);
    }
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  hardState(): HardState {
    return this.hard;
  }

  /** Persists what a Ready hands over: snapshot, then entries, then hard state. */
  save(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void {
    if (snapshot !== null) this.applySnapshot(snapshot);
    this.append(entries);
    if (hardState !== null) this.hard = hardState;
  }

  setHardState(hs: HardState): void {
    this.hard = hs;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) {
      throw raftError(
        'snapshot-out-of-date',
        `snapshot at ${s.metadata.index} is not newer than ${this.snap.metadata.index}`,
      );
    }
    this.snap = s;
    this.ents = [{ term: s.metadata.term, index: s.metadata.index, type: 0, data: new Uint8Array(0) }];
  }

  /** Records the application's snapshot at `index` (which must be applied); the log is kept until compact(). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw raftError('snapshot-out-of-date', `snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    invariant(index <= this.lastIndex(), () => `snapshot at ${index} is beyond the last index ${this.lastIndex()}`);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Discards entries up to and including `index` (covered by a snapshot). */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) throw raftError('compacted', `index ${index} is already compacted`);
    invariant(index <= this.lastIndex(), () => `compacting ${index} beyond the last index ${this.lastIndex()}`);
    const keep = this.ents.slice(index - offset);
    keep[0] = { term: keep[0]!.term, index, type: 0, data: new Uint8Array(0) };
    this.ents = keep;
  }

  /** Appends entries, replacing any conflicting suffix; entries below the first index are ignored. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    let es = entries;
    if (es[0]!.index < first) es = es.slice(first - es[0]!.index);
    const at = es[0]!.index - this.ents[0]!.index;
    invariant(at <= this.ents.length, () => `gap: appending ${es[0]!.index} after ${this.lastIndex()}`);
    if (at < this.ents.length) this.ents.length = at; // drop the conflicting suffix
    for (const e of es) this.ents.push(e);
  }
}
