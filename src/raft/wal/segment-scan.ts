import { ParleyError } from '../../wire/parley-error.js';
import { HEADER_BYTES, isIntactHeader, type RecordType, readRecord } from './record.js';

/**
 * Reading one segment file's records and classifying damage.
 *
 * Crash model: a save() writes its records with one write() and one fdatasync; after a crash
 * any suffix of the last, not-yet-synced write may be missing, zero-filled or garbage, but
 * everything before it is intact. Hence the rule:
 *
 *   A damaged record (short, bad header checksum, bad payload checksum) is a TORN TAIL, to be
 *   truncated, iff it lies in the LAST segment and no intact record header starts anywhere
 *   after it. Otherwise it is CORRUPTION: startup refuses with DATA_LOSS naming file+offset.
 *
 * A non-last segment was fully synced before the next segment was created, so any damage in
 * it is corruption. Note the rule is conservative on one side: if a disk persisted a later
 * page of the last write but not an earlier one, recovery reports DATA_LOSS rather than
 * guessing (a committed entry is never dropped silently; an operator decides).
 */

export interface ScannedRecord {
  readonly type: RecordType;
  readonly payload: Uint8Array;
  /** Byte offset of the record's header in the file. */
  readonly offset: number;
}

export interface ScannedSegment {
  readonly records: ScannedRecord[];
  /** Bytes of intact records from the start of the file; the file is cut here if torn. */
  readonly validBytes: number;
  /** True when a damaged tail was found (and must be truncated before appending). */
  readonly torn: boolean;
}

export function scanSegment(buf: Uint8Array, fileName: string, isLast: boolean): ScannedSegment {
  const records: ScannedRecord[] = [];
  let at = 0;
  for (;;) {
    const r = readRecord(buf, at);
    if (r.kind === 'ok') {
      records.push({ type: r.type, payload: r.payload, offset: at });
      at = r.next;
      continue;
    }
    if (r.kind === 'end') return { records, validBytes: at, torn: false };
    if (isLast && !intactHeaderAfter(buf, at + 1)) return { records, validBytes: at, torn: true };
    throw corruption(fileName, at, r.kind, isLast);
  }
}

function intactHeaderAfter(buf: Uint8Array, from: number): boolean {
  for (let i = from; i + HEADER_BYTES <= buf.length; i++) if (isIntactHeader(buf, i)) return true;
  return false;
}

function corruption(fileName: string, offset: number, kind: string, isLast: boolean): ParleyError {
  const why = isLast
    ? 'intact records follow it'
    : 'it is not the last segment, which was synced before the next began';
  return new ParleyError(
    'DATA_LOSS',
    `WAL corrupted in ${fileName} at byte offset ${offset} (${kind}); refusing to start because ${why}. ` +
      'Restore this member from a healthy replica or repair the file by hand.',
    { details: { file: fileName, offset, kind } },
  );
}
