import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParleyError } from '../../wire/parley-error.js';
import type { Entry, HardState, SnapshotMetadata } from '../types.js';
import type { DataKeyring } from './data-keyring.js';
import { EntryLog } from './entry-log.js';
import { RecordType } from './record.js';
import {
  decodeEntry,
  decodeHardState,
  decodeLogMark,
  decodeSegmentHeader,
  decodeSnapshotRecord,
  type LogMark,
  type SnapshotRecord,
} from './record-payloads.js';
import { dataKeyRequired, RecordSealer, type SealedEntriesHead, sealedEntriesHead } from './record-sealer.js';
import { parseSegmentFileName, type SegmentName } from './segment-name.js';
import { scanSegment } from './segment-scan.js';

/**
 * Rebuilds the storage state from the segment files of a WAL directory.
 *
 * Replay semantics, in file order:
 *   Entry e        — replaces every entry >= e.index, then appends e;
 *   HardState      — the latest wins;
 *   Snapshot       — the latest is the current snapshot; if it `resetsLog`, the log is emptied
 *                    and based at the snapshot;
 *   Compacted m    — entries <= m.index are dropped, term(m.index) = m.term.
 *
 * The log base only moves forward, so the LAST base-setting record (Compacted or a resetting
 * Snapshot) is the final base. Segments wholly below it may have been deleted, so replay
 * first finds that floor and ignores entries at or below it; above it the entries must be
 * contiguous, and a gap is DATA_LOSS.
 *
 * Encryption at rest: a SealedEntries record is opened (record-sealer.ts) with the store id of
 * the last StoreId record before it, and only when some of its entries lie above the floor (so a
 * key that sealed nothing but compacted entries may be retired); its entries then replay as Entry. Without a keyring a sealed entry is refused
 * (FAILED_PRECONDITION naming the key id); clear entries are counted for the caller's policy.
 */

export interface ReplayedWal {
  /** Every segment, oldest first. */
  readonly segments: SegmentName[];
  /** Intact byte length of the last segment and whether a torn tail follows it. */
  readonly tail: { readonly validBytes: number; readonly torn: boolean };
  readonly hardState: HardState;
  readonly snapshot: SnapshotMetadata | null;
  readonly log: EntryLog;
  /** The store id of the last StoreId record (null: the WAL was never written with encryption). */
  readonly storeId: Uint8Array | null;
  /** With a keyring: the sealer of that store id, to open the snapshot file and seal new records. */
  readonly sealer: RecordSealer | null;
  /** Entry records in the clear, on disk in any segment; where the first one is. */
  readonly plaintextEntries: { readonly count: number; readonly first: string | null };
  /**
   * How the last segment's entries are stored: the key ids that sealed them (0 for entries in the
   * clear) and whether it has a StoreId record. An encrypted writer starts a new segment unless it
   * has one and only the active key sealed its entries, so that compaction can delete the rest.
   */
  readonly lastSegment: { readonly keyIds: ReadonlySet<number>; readonly hasStoreId: boolean };
}

type Decoded =
  | { readonly k: 'entry'; readonly e: Entry; readonly file: string; readonly offset: number }
  | {
      readonly k: 'sealed';
      readonly head: SealedEntriesHead;
      readonly payload: Uint8Array;
      readonly sealer: RecordSealer;
      readonly file: string;
      readonly offset: number;
    }
  | { readonly k: 'hard'; readonly hs: HardState }
  | { readonly k: 'snap'; readonly rec: SnapshotRecord }
  | { readonly k: 'mark'; readonly mark: LogMark }
  | { readonly k: 'segment'; readonly firstIndex: number; readonly file: string };

export function listSegments(dir: string): SegmentName[] {
  const names: SegmentName[] = [];
  for (const f of readdirSync(dir)) {
    const n = parseSegmentFileName(f);
    if (n) names.push(n);
  }
  names.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < names.length; i++) {
    if (names[i]!.seq !== names[i - 1]!.seq + 1) {
      throw new ParleyError('DATA_LOSS', `WAL segment missing between ${names[i - 1]!.file} and ${names[i]!.file}`, {
        details: { file: names[i]!.file, offset: 0 },
      });
    }
  }
  return names;
}

/** Replays `dir`; returns null when it holds no segment (a fresh WAL). */
export function replayWal(dir: string, keyring: DataKeyring | null = null): ReplayedWal | null {
  const segments = listSegments(dir);
  if (segments.length === 0) return null;
  const decoded: Decoded[] = [];
  let tail = { validBytes: 0, torn: false };
  let previousBytes = -1;
  let storeId: Uint8Array | null = null;
  let sealer: RecordSealer | null = null;
  let plaintext = 0;
  let firstPlaintext: string | null = null;
  let lastSegment: ReplayedWal['lastSegment'] = { keyIds: new Set(), hasStoreId: false };
  segments.forEach((seg, i) => {
    let segmentHasStoreId = false;
    const segmentKeyIds = new Set<number>();
    const isLast = i === segments.length - 1;
    const bytes = readFileSync(join(dir, seg.file));
    const scanned = scanSegment(bytes, seg.file, isLast);
    if (isLast) tail = { validBytes: scanned.validBytes, torn: scanned.torn };
    const first = scanned.records[0];
    const header = first?.type === RecordType.SegmentHeader ? decodeSegmentHeader(first.payload) : null;
    if (header === null || header.seq !== seg.seq || header.firstIndex !== seg.firstIndex) {
      throw new ParleyError('DATA_LOSS', `WAL segment ${seg.file} lacks a matching segment header at byte offset 0`, {
        details: { file: seg.file, offset: 0 },
      });
    }
    if (i > 0 && header.previousBytes !== previousBytes) {
      const prev = segments[i - 1]!.file;
      throw new ParleyError(
        'DATA_LOSS',
        `WAL segment ${prev} is ${previousBytes} bytes but ${seg.file} recorded it as ${header.previousBytes}: ` +
          `data is missing at byte offset ${Math.min(previousBytes, header.previousBytes)} of ${prev}`,
        { details: { file: prev, offset: Math.min(previousBytes, header.previousBytes) } },
      );
    }
    previousBytes = bytes.length;
    decoded.push({ k: 'segment', firstIndex: header.firstIndex, file: seg.file });
    for (const r of scanned.records) {
      switch (r.type) {
        case RecordType.Entry:
          decoded.push({ k: 'entry', e: decodeEntry(r.payload), file: seg.file, offset: r.offset });
          plaintext++;
          firstPlaintext ??= `${seg.file} at byte offset ${r.offset}`;
          segmentKeyIds.add(0);
          break;
        case RecordType.SealedEntries: {
          const where = { file: seg.file, offset: r.offset };
          const head = sealedEntriesHead(r.payload);
          if (keyring === null) throw dataKeyRequired(head?.keyId ?? 0, where);
          if (sealer === null) {
            throw new ParleyError(
              'DATA_LOSS',
              `sealed WAL entry in ${seg.file} at byte offset ${r.offset} precedes any store id record`,
              { details: where },
            );
          }
          if (head === null) {
            throw new ParleyError(
              'DATA_LOSS',
              `malformed WAL sealed entries record in ${seg.file} at byte offset ${r.offset}`,
              {
                details: where,
              },
            );
          }
          decoded.push({ k: 'sealed', head, payload: r.payload.slice(), sealer, ...where });
          segmentKeyIds.add(head.keyId);
          break;
        }
        case RecordType.StoreId:
          if (storeId === null || !sameBytes(storeId, r.payload)) {
            storeId = r.payload.slice();
            sealer = keyring === null ? null : new RecordSealer(keyring, storeId);
          }
          segmentHasStoreId = true;
          break;
        case RecordType.HardState:
          decoded.push({ k: 'hard', hs: decodeHardState(r.payload) });
          break;
        case RecordType.Snapshot:
          decoded.push({ k: 'snap', rec: decodeSnapshotRecord(r.payload) });
          break;
        case RecordType.Compacted:
          decoded.push({ k: 'mark', mark: decodeLogMark(r.payload) });
          break;
        case RecordType.SegmentHeader:
          if (r.offset !== 0) {
            throw new ParleyError('DATA_LOSS', `unexpected segment header in ${seg.file} at byte offset ${r.offset}`, {
              details: { file: seg.file, offset: r.offset },
            });
          }
          break;
      }
    }
    if (isLast) lastSegment = { keyIds: segmentKeyIds, hasStoreId: segmentHasStoreId };
  });

  let floor: LogMark = { index: 0, term: 0 };
  for (const d of decoded) {
    if (d.k === 'mark') floor = d.mark;
    else if (d.k === 'snap' && d.rec.resetsLog) floor = { index: d.rec.metadata.index, term: d.rec.metadata.term };
  }

  const log = new EntryLog(floor);
  let hardState: HardState = { term: 0, vote: null, commit: 0 };
  let snapshot: SnapshotMetadata | null = null;
  for (const d of decoded) {
    switch (d.k) {
      case 'entry':
        replayEntry(log, floor, d.e, d);
        break;
      case 'sealed':
        if (d.head.firstIndex + d.head.count - 1 <= floor.index) break;
        for (const e of d.sealer.openEntries(d.payload, d)) replayEntry(log, floor, e, d);
        break;
      case 'hard':
        hardState = d.hs;
        break;
      case 'snap':
        snapshot = d.rec.metadata;
        // A received snapshot replaced the whole log: whatever was appended before it is gone.
        if (d.rec.resetsLog) log.reset(floor);
        break;
      case 'mark':
        // Entries at or below the floor were never added; an earlier mark changes nothing above it.
        break;
      case 'segment':
        // The segment was created when the log ended just below its firstIndex.
        if (d.firstIndex - 1 > log.lastIndex()) {
          throw new ParleyError(
            'DATA_LOSS',
            `WAL segment ${d.file} starts at index ${d.firstIndex} but the log before it ends at ${log.lastIndex()} (byte offset 0)`,
            { details: { file: d.file, offset: 0 } },
          );
        }
        break;
    }
  }
  if (hardState.commit > log.lastIndex()) {
    const last = segments[segments.length - 1]!;
    throw new ParleyError(
      'DATA_LOSS',
      `WAL hard state commits index ${hardState.commit} but the log ends at ${log.lastIndex()} (segment ${last.file})`,
      { details: { file: last.file, offset: tail.validBytes } },
    );
  }
  return {
    segments,
    tail,
    hardState,
    snapshot,
    log,
    storeId,
    sealer,
    plaintextEntries: { count: plaintext, first: firstPlaintext },
    lastSegment,
  };
}

/** Entry e replaces every entry >= e.index, then is appended; at or below the floor it is ignored. */
function replayEntry(log: EntryLog, floor: LogMark, e: Entry, where: { file: string; offset: number }): void {
  if (e.index <= floor.index) return;
  if (e.index > log.lastIndex() + 1) {
    throw new ParleyError(
      'DATA_LOSS',
      `WAL entry ${e.index} in ${where.file} at byte offset ${where.offset} follows last index ${log.lastIndex()}: entries are missing`,
      { details: { file: where.file, offset: where.offset } },
    );
  }
  log.append([e]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
