import { mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ParleyError } from '../../wire/parley-error.js';
import { raftError } from '../core/errors.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata, Storage } from '../types.js';
import { checkDataKeyring, type WalEncryption } from './data-keyring.js';
import { EntryLog } from './entry-log.js';
import { fsyncDir, writeFileDurably } from './fs-durable.js';
import { RecordType } from './record.js';
import { RecordBatch } from './record-batch.js';
import {
  encodeHardState,
  encodeLogMark,
  encodeSegmentHeader,
  encodeSnapshotRecord,
  type SegmentHeader,
} from './record-payloads.js';
import { RecordSealer } from './record-sealer.js';
import type { SegmentName } from './segment-name.js';
import { SegmentWriter } from './segment-writer.js';
import {
  encodeSnapshotFile,
  readSnapshotFile,
  removeOtherSnapshotFiles,
  type SnapshotRead,
  snapshotFileName,
} from './snapshot-file.js';
import { type ReplayedWal, replayWal } from './wal-replay.js';

/**
 * Durable raft storage: a write-ahead log of segment files plus snapshot files, with the
 * log above the last compaction point held in memory for reads (see EntryLog).
 *
 * I/O is SYNCHRONOUS on purpose. Raft requires entries and hard state to be durable before
 * the messages that depend on them are sent and before Ready is acknowledged; save() returns
 * only once that is true, so the caller cannot get the order wrong. While the one fdatasync
 * of a save() runs (~0.3 ms here) the event loop is blocked and incoming messages and
 * proposals pile up in socket buffers and queues; they become the next Ready, i.e. the next
 * save(). That is the group commit: one fdatasync per Ready, however many entries it holds.
 *
 * Write order within one save(): snapshot file (its own fsync, rename, dir fsync) → one
 * write() of [snapshot record, entries..., hard state] → one fdatasync. Entries precede the
 * hard state so a torn write can never leave a commit index pointing past the log.
 *
 * Each new segment starts with its header and a restatement of the current snapshot
 * metadata, compaction point and hard state, so deleting older segments never loses state.
 *
 * Encryption at rest (option `encryption`, record-sealer.ts): entry data and snapshot data are
 * sealed with the keyring's active key; raft metadata stays in the clear. A store written in the
 * clear is refused unless `acceptPlaintext` (then its clear records are read, every new record is
 * sealed, and a new segment is started at once so that the next snapshot and compaction delete
 * every clear entry; likewise after a key rotation for entries under the old key); a sealed
 * store opened without a keyring is refused naming the key id. Each segment written with
 * encryption restates the store id after its header. Every refusal comes before the files are
 * touched (a torn tail is cut only after replay, snapshot and policy checks have passed).
 */

export interface WalStorageOptions {
  /** A segment is closed and a new one started once it reaches this size. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Configuration recorded when `dir` holds no WAL yet (a new member); ignored otherwise. */
  readonly initialConfState?: ConfState;
  /**
   * Encryption at rest: seal entry data and snapshot data with the keyring's active key
   * (AES-256-GCM). Metadata (terms, indexes, votes, configuration, sizes) stays in the clear.
   * See docs/SECURITY.md, "Encryption at rest".
   */
  readonly encryption?: WalEncryption;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const EMPTY_CONF: ConfState = { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };

export class WalStorage implements Storage {
  private readonly batch = new RecordBatch();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    private segments: SegmentName[],
    private writer: SegmentWriter,
    private readonly log: EntryLog,
    private hard: HardState,
    private snap: Snapshot,
    private readonly sealer: RecordSealer | null,
  ) {}

  /**
   * Opens (creating if needed) the WAL in `dir` and replays it. A torn tail is truncated;
   * corruption anywhere else throws ParleyError('DATA_LOSS') naming the file and offset. With
   * `encryption`, a record that does not open is DATA_LOSS (reason 'tampered'), one sealed with a
   * key the ring lacks FAILED_PRECONDITION (reason 'unknown-data-key'), both naming the key id.
   */
  static open(dir: string, options: WalStorageOptions = {}): WalStorage {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const keyring = options.encryption ? checkDataKeyring(options.encryption.keyring) : null;
    mkdirSync(dir, { recursive: true });
    const replayed = replayWal(dir, keyring);
    const sealer = keyring === null ? null : (replayed?.sealer ?? new RecordSealer(keyring, RecordSealer.newStoreId()));
    if (replayed === null) {
      const confState = options.initialConfState ?? EMPTY_CONF;
      const snap: Snapshot = { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
      const hard: HardState = { term: 0, vote: null, commit: 0 };
      const log = new EntryLog();
      const writer = SegmentWriter.create(
        dir,
        0,
        1,
        segmentPreamble({ seq: 0, firstIndex: 1, previousBytes: -1 }, snap.metadata, log, hard, sealer),
      );
      removeOtherSnapshotFiles(dir, null);
      return new WalStorage(dir, segmentBytes, [writer.segment], writer, log, hard, snap, sealer);
    }
    const meta = replayed.snapshot ?? { index: 0, term: 0, confState: options.initialConfState ?? EMPTY_CONF };
    const read: SnapshotRead =
      meta.index === 0
        ? { snapshot: { metadata: meta, data: new Uint8Array(0) }, sealed: false }
        : readSnapshotFile(dir, meta, sealer);
    if (sealer !== null && options.encryption?.acceptPlaintext !== true) refusePlaintext(dir, replayed, read);
    removeOtherSnapshotFiles(dir, meta.index === 0 ? null : snapshotFileName(meta));
    const last = replayed.segments[replayed.segments.length - 1]!;
    const writer = SegmentWriter.reopen(dir, last, replayed.tail.validBytes, replayed.tail.torn);
    const storage = new WalStorage(
      dir,
      segmentBytes,
      replayed.segments,
      writer,
      replayed.log,
      replayed.hardState,
      read.snapshot,
      sealer,
    );
    // Clear entries, entries under another key, or no store id in the open segment: start a new
    // one, so that compaction past today's last index deletes every segment holding such records
    // (plaintext, or ciphertext under a key being retired: it leaves the disk, not only the ring).
    const open = replayed.lastSegment;
    const foreign = [...open.keyIds].some((id) => id !== sealer?.activeKeyId);
    if (sealer !== null && (!open.hasStoreId || foreign)) storage.cut();
    return storage;
  }

  /** True when this WAL seals what it writes (the `encryption` option). */
  get encrypted(): boolean {
    return this.sealer !== null;
  }

  // ---- Storage (reads are served from memory) ----

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.log.slice(lo, hi, maxBytes);
  }

  term(index: number): number {
    return this.log.term(index);
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- writes ----

  /**
   * Makes everything one Ready hands over durable: an optional received snapshot (which
   * replaces the log), entries (an entry at index i replaces every entry >= i), and the hard
   * state. One write() and at most one fdatasync. The fdatasync is skipped when nothing but
   * the commit index changed (as etcd does): commit is recoverable from the leader.
   */
  save(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null = null): void {
    this.assertOpen();
    const b = this.batch;
    b.clear();
    let base = this.log.lastIndex();
    if (snapshot !== null && snapshot.metadata.index > 0) {
      const m = snapshot.metadata;
      if (m.index <= this.log.compactedTo.index) {
        throw raftError(
          'snapshot-out-of-date',
          `snapshot at index ${m.index} is out of date: the log is already compacted through ${this.log.compactedTo.index}`,
        );
      }
      this.writeSnapshotFile(snapshot);
      b.add(RecordType.Snapshot, encodeSnapshotRecord({ metadata: m, resetsLog: true }));
      base = m.index;
    } else {
      snapshot = null;
    }
    if (entries.length > 0 && entries[0]!.index > base + 1) {
      throw new ParleyError('INTERNAL', `save would leave a gap: first entry ${entries[0]!.index}, last index ${base}`);
    }
    const sealer = this.sealer;
    if (sealer === null) for (const e of entries) b.addEntry(e);
    else if (entries.length > 0) b.addSealedEntries(entries, sealer);
    const hardChanged = hardState !== null && !sameHardState(hardState, this.hard);
    if (hardChanged) b.add(RecordType.HardState, encodeHardState(hardState));
    if (b.byteLength === 0) return;
    this.writer.append(b.bytes());
    const mustSync =
      snapshot !== null ||
      entries.length > 0 ||
      (hardChanged && (hardState.term !== this.hard.term || hardState.vote !== this.hard.vote));
    if (mustSync) this.writer.sync();

    if (snapshot !== null) {
      this.log.reset({ index: snapshot.metadata.index, term: snapshot.metadata.term });
      this.snap = snapshot;
      removeOtherSnapshotFiles(this.dir, snapshotFileName(snapshot.metadata));
    }
    this.log.append(entries);
    if (hardChanged) this.hard = hardState;
    if (this.writer.byteLength >= this.segmentBytes) this.cut();
  }

  /** A snapshot received from the leader: replaces the log. Same as save(null, [], snapshot). */
  applySnapshot(snapshot: Snapshot): void {
    this.save(null, [], snapshot);
  }

  /**
   * Records a snapshot the application took of its own state machine at `index` (which must
   * be applied, hence committed, and not below the compaction point). The log is kept;
   * call compact() to release it.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    this.assertOpen();
    if (index <= this.snap.metadata.index) {
      throw raftError(
        'snapshot-out-of-date',
        `snapshot at index ${index} is out of date: the current snapshot is at ${this.snap.metadata.index}`,
      );
    }
    if (index > this.hard.commit) {
      throw new ParleyError(
        'FAILED_PRECONDITION',
        `cannot snapshot index ${index}: only ${this.hard.commit} is committed`,
      );
    }
    const snapshot: Snapshot = { metadata: { index, term: this.log.term(index), confState }, data };
    this.writeSnapshotFile(snapshot);
    const b = this.batch;
    b.clear();
    b.add(RecordType.Snapshot, encodeSnapshotRecord({ metadata: snapshot.metadata, resetsLog: false }));
    this.writer.append(b.bytes());
    this.writer.sync();
    this.snap = snapshot;
    removeOtherSnapshotFiles(this.dir, snapshotFileName(snapshot.metadata));
    return snapshot;
  }

  /**
   * Discards the log through `index` (which a snapshot must cover): memory is released, a
   * durable compaction mark is written, then every segment whose entries all lie at or below
   * `index` is deleted (and the directory fsynced). The current segment is never deleted.
   */
  compact(index: number): void {
    this.assertOpen();
    if (index > this.snap.metadata.index) {
      throw new ParleyError(
        'FAILED_PRECONDITION',
        `cannot compact through ${index}: the latest snapshot only covers ${this.snap.metadata.index}`,
      );
    }
    if (index <= this.log.compactedTo.index) return;
    this.log.compact(index);
    const b = this.batch;
    b.clear();
    b.add(RecordType.Compacted, encodeLogMark(this.log.compactedTo));
    this.writer.append(b.bytes());
    this.writer.sync();
    // Segment k holds only entries < firstIndex(k+1), so it may go once firstIndex(k+1)-1 <= index.
    let drop = 0;
    while (drop + 1 < this.segments.length && this.segments[drop + 1]!.firstIndex - 1 <= index) drop++;
    if (drop === 0) return;
    for (const seg of this.segments.slice(0, drop)) unlinkSync(join(this.dir, seg.file));
    fsyncDir(this.dir);
    this.segments = this.segments.slice(drop);
  }

  /** The segment files currently on disk, oldest first (for tests and tooling). */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.file);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
  }

  private cut(): void {
    this.writer.sync();
    const seq = this.writer.segment.seq + 1;
    const firstIndex = this.log.lastIndex() + 1;
    const header = { seq, firstIndex, previousBytes: this.writer.byteLength };
    const next = SegmentWriter.create(
      this.dir,
      seq,
      firstIndex,
      segmentPreamble(header, this.snap.metadata, this.log, this.hard, this.sealer),
    );
    this.writer.close();
    this.writer = next;
    this.segments.push(next.segment);
  }

  private writeSnapshotFile(s: Snapshot): void {
    writeFileDurably(this.dir, join(this.dir, snapshotFileName(s.metadata)), encodeSnapshotFile(s, this.sealer));
  }

  private assertOpen(): void {
    if (this.closed) throw new ParleyError('FAILED_PRECONDITION', `WAL in ${this.dir} is closed`);
  }
}

/** Header plus restated state (and the store id when sealing): what every segment starts with. */
function segmentPreamble(
  header: SegmentHeader,
  snap: SnapshotMetadata,
  log: EntryLog,
  hard: HardState,
  sealer: RecordSealer | null,
) {
  const b = new RecordBatch(1024);
  b.add(RecordType.SegmentHeader, encodeSegmentHeader(header));
  if (sealer !== null) b.add(RecordType.StoreId, sealer.storeId);
  b.add(RecordType.Snapshot, encodeSnapshotRecord({ metadata: snap, resetsLog: false }));
  b.add(RecordType.Compacted, encodeLogMark(log.compactedTo));
  b.add(RecordType.HardState, encodeHardState(hard));
  return b.bytes().slice();
}

/** Encryption is on and the store holds clear data, not accepted: say how to migrate. */
function refusePlaintext(dir: string, replayed: ReplayedWal, read: SnapshotRead): void {
  const clear = replayed.plaintextEntries;
  const clearSnapshot = read.snapshot.metadata.index > 0 && !read.sealed;
  if (clear.count === 0 && !clearSnapshot) return;
  const what = [
    ...(clear.count > 0 ? [`${clear.count} entries (the first in ${clear.first})`] : []),
    ...(clearSnapshot ? [`the snapshot ${snapshotFileName(read.snapshot.metadata)}`] : []),
  ].join(' and ');
  throw new ParleyError(
    'FAILED_PRECONDITION',
    `the WAL in ${dir} holds ${what} written without encryption, and encryption at rest is on. ` +
      'To encrypt this store, start it once accepting plaintext (parley server --data-key-migrate; ' +
      'encryptionAtRest.acceptPlaintext): new records are sealed at once, and the next snapshot and ' +
      "compaction remove the clear ones. Or empty this member's data directory and let it catch up from the leader.",
    { details: { reason: 'plaintext-at-rest', dir, entries: clear.count, snapshot: clearSnapshot } },
  );
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
