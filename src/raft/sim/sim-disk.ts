import type { Prng } from '../../base/random.js';
import { MemoryStorage } from '../memory-storage.js';
import type { ConfState, Entry, HardState, Snapshot } from '../types.js';

const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

/** One Ready's write: what `save(hardState, entries, snapshot)` was asked to persist. */
interface DiskWrite {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

/**
 * What survives a crash: the synced state of one member's disk.
 *
 * Invariant: `entries[k].index === offset + 1 + k` (contiguous, right after the snapshot or the
 * compaction point `offset`), and `offsetTerm` is the term of the entry at `offset`.
 */
class DurableImage {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot | null = null;
  offset = 0;
  offsetTerm = 0;
  entries: Entry[] = [];

  apply(w: DiskWrite): void {
    if (w.snapshot !== null && w.snapshot.metadata.index > (this.snapshot?.metadata.index ?? 0)) {
      // A snapshot received from the leader replaces the whole log (WAL record `resetsLog`).
      this.snapshot = w.snapshot;
      this.offset = w.snapshot.metadata.index;
      this.offsetTerm = w.snapshot.metadata.term;
      this.entries = [];
    }
    if (w.entries.length > 0) {
      const first = w.entries[0]!.index;
      if (first <= this.offset)
        throw new Error(`sim disk: write of entry ${first} below the compaction point ${this.offset}`);
      if (first > this.lastIndex() + 1)
        throw new Error(`sim disk: write of entry ${first} leaves a gap after ${this.lastIndex()}`);
      this.entries.length = first - this.offset - 1; // replace the conflicting suffix
      for (const e of w.entries) this.entries.push(e);
    }
    if (w.hardState !== null) this.hardState = w.hardState;
  }

  compact(snapshot: Snapshot, compactIndex: number): void {
    this.snapshot = snapshot;
    if (compactIndex <= this.offset) return;
    const term = this.termAt(compactIndex);
    if (term === null) throw new Error(`sim disk: compact(${compactIndex}) beyond the log (${this.lastIndex()})`);
    this.entries = this.entries.slice(compactIndex - this.offset);
    this.offset = compactIndex;
    this.offsetTerm = term;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  /** The term of the entry at `index`, or null when the image does not hold it (compacted away, or past the end). */
  termAt(index: number): number | null {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return null;
    return this.entries[index - this.offset - 1]!.term;
  }
}

/**
 * The simulated disk of one member. Writes go to a live MemoryStorage (what the running core
 * reads) and to a queue of un-synced writes; `sync()` makes the queue durable. A crash keeps a
 * random prefix of the un-synced writes (a torn tail, as the WAL recovers it) and loses the
 * rest; `restart()` builds a fresh MemoryStorage from what survived.
 *
 * Snapshot creation and compaction are durable at once (the WAL fsyncs the snapshot file and
 * the Compacted record), and flush earlier writes with them.
 */
export class SimDisk {
  private readonly durable = new DurableImage();
  private unsynced: DiskWrite[] = [];
  private live: MemoryStorage = new MemoryStorage();

  /** The storage the running core reads. Replaced by restart(). */
  get storage(): MemoryStorage {
    return this.live;
  }

  /** A brand-new member of the initial cluster persists the bootstrap state (durably) before it starts. */
  bootstrap(hardState: HardState, entries: readonly Entry[]): void {
    this.write(hardState, entries, null);
    this.sync();
  }

  write(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void {
    this.live.save(hardState, entries, snapshot);
    this.unsynced.push({ hardState, entries, snapshot });
  }

  sync(): void {
    for (const w of this.unsynced) this.durable.apply(w);
    this.unsynced = [];
  }

  get unsyncedWrites(): number {
    return this.unsynced.length;
  }

  /** The application snapshots its state machine at `index` and drops the log through `compactIndex` (<= index). */
  snapshotAndCompact(index: number, confState: ConfState, data: Uint8Array, compactIndex: number): Snapshot {
    const snap = this.live.createSnapshot(index, confState, data);
    if (compactIndex > this.live.firstIndex() - 1) this.live.compact(compactIndex);
    this.sync();
    this.durable.compact(snap, compactIndex);
    return snap;
  }

  /** Power loss: keeps `keep` of the un-synced writes (oldest first), loses the rest. Returns how many were lost. */
  crash(rng: Prng): number {
    const keep = rng.int(this.unsynced.length + 1);
    for (const w of this.unsynced.slice(0, keep)) this.durable.apply(w);
    const lost = this.unsynced.length - keep;
    this.unsynced = [];
    return lost;
  }

  /** Rebuilds the live storage from the durable image (after crash()). */
  restart(): MemoryStorage {
    const s = new MemoryStorage();
    const img = this.durable;
    const snapIndex = img.snapshot?.metadata.index ?? 0;
    if (img.snapshot !== null) s.applySnapshot(img.snapshot);
    const hs = img.hardState === EMPTY_HARD_STATE ? null : img.hardState;
    // Entries kept below the snapshot (compaction may lag it) are covered by the snapshot.
    const entries = img.entries.filter((e) => e.index > snapIndex);
    if (hs !== null || entries.length > 0) s.save(hs, entries, null);
    this.live = s;
    return s;
  }

  /** The durable snapshot (what a restart restores the state machine from). */
  get durableSnapshot(): Snapshot | null {
    return this.durable.snapshot;
  }

  /** True when the durable disk holds the entry (index, term), or a snapshot that covers index. */
  durablyHolds(index: number, term: number): boolean {
    const img = this.durable;
    if (img.snapshot !== null && img.snapshot.metadata.index >= index) return true;
    return img.termAt(index) === term;
  }

  durableLastIndex(): number {
    return this.durable.lastIndex();
  }
}
