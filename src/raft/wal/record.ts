import { crc32c } from './crc32c.js';

/**
 * WAL record framing. Every record is a 16-byte header followed by its payload:
 *
 *   offset  size  field
 *   0       4     payload length, u32 little-endian
 *   4       1     record type (RecordType)
 *   5       3     zero
 *   8       4     CRC32C of the payload
 *   12      4     CRC32C of header bytes [0, 12)
 *
 * The header has its own checksum so that a flipped bit in the length is detected as
 * corruption rather than read as "the record runs past the end of the file" (which would
 * look like a torn write and be truncated away, silently losing everything after it).
 * A header of sixteen zero bytes is never valid (its CRC would have to be 0 over twelve zero
 * bytes, and CRC32C of twelve zeros is not 0), so a zero-filled tail is recognisable.
 */
export const HEADER_BYTES = 16;

/** Upper bound on one record's payload; anything larger in a header is corruption. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

export const RecordType = {
  /** First record of every segment: format version, segment sequence number, first index. */
  SegmentHeader: 1,
  /** One raft log entry. A later entry at index i supersedes every entry >= i before it. */
  Entry: 2,
  /** The latest HardState wins. */
  HardState: 3,
  /** Snapshot metadata; the data lives in a snapshot file. May reset the log (see payloads). */
  Snapshot: 4,
  /** The log below (and at) this index was compacted away; carries the term at the index. */
  Compacted: 5,
  /** Contiguous raft log entries whose data is sealed together (encryption at rest, record-sealer.ts); each as Entry. */
  SealedEntries: 6,
  /** The WAL's 16-byte store id, bound into every sealed record; restated in each segment's preamble. */
  StoreId: 7,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export function isRecordType(n: number): n is RecordType {
  return n >= RecordType.SegmentHeader && n <= RecordType.StoreId;
}

/**
 * Writes the header for a payload already placed at `out[at + HEADER_BYTES, + length)`.
 * Lets a batch encode payloads in place and checksum them without an extra copy.
 */
export function writeHeader(out: Uint8Array, at: number, type: RecordType, length: number): void {
  const start = at + HEADER_BYTES;
  putUint32(out, at, length);
  out[at + 4] = type;
  out[at + 5] = 0;
  out[at + 6] = 0;
  out[at + 7] = 0;
  putUint32(out, at + 8, crc32c(out, 0, start, start + length));
  putUint32(out, at + 12, crc32c(out, 0, at, at + 12));
}

/** Little-endian u32 without a DataView per record (one fewer allocation on the WAL's hot path). */
function putUint32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = v >>> 24;
}

/** Writes header+payload for one record at `out[at]`; returns the offset just after it. */
export function writeRecord(out: Uint8Array, at: number, type: RecordType, payload: Uint8Array): number {
  out.set(payload, at + HEADER_BYTES);
  writeHeader(out, at, type, payload.length);
  return at + HEADER_BYTES + payload.length;
}

/**
 * True when an intact record header (valid checksum, known type) starts at `at`. Used to
 * decide whether damage is followed by more written data (corruption) or not (torn tail).
 */
export function isIntactHeader(buf: Uint8Array, at: number): boolean {
  if (buf.length - at < HEADER_BYTES) return false;
  const type = buf[at + 4]!;
  if (!isRecordType(type) || buf[at + 5] !== 0 || buf[at + 6] !== 0 || buf[at + 7] !== 0) return false;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return crc32c(buf, 0, at, at + 12) === view.getUint32(at + 12, true);
}

/** The outcome of reading the record that starts at some offset of a segment. */
export type RecordRead =
  | { readonly kind: 'ok'; readonly type: RecordType; readonly payload: Uint8Array; readonly next: number }
  /** Clean end: the offset is exactly the end of the data. */
  | { readonly kind: 'end' }
  /** Fewer than HEADER_BYTES remain, or a valid header announces more bytes than remain. */
  | { readonly kind: 'truncated' }
  /** The header fails its checksum (or is all zeros, or names an unknown type / absurd length). */
  | { readonly kind: 'bad-header' }
  /** The header is valid but the payload fails its checksum. `next` is where the record ends. */
  | { readonly kind: 'bad-payload'; readonly next: number };

/** Reads and verifies the record at `at` in `buf`. Never throws. */
export function readRecord(buf: Uint8Array, at: number): RecordRead {
  if (at === buf.length) return { kind: 'end' };
  if (buf.length - at < HEADER_BYTES) return { kind: 'truncated' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.getUint32(at, true);
  const type = buf[at + 4]!;
  const payloadCrc = view.getUint32(at + 8, true);
  const headerCrc = view.getUint32(at + 12, true);
  if (crc32c(buf, 0, at, at + 12) !== headerCrc) return { kind: 'bad-header' };
  if (!isRecordType(type) || length > MAX_PAYLOAD_BYTES || buf[at + 5] !== 0 || buf[at + 6] || buf[at + 7]) {
    return { kind: 'bad-header' };
  }
  const start = at + HEADER_BYTES;
  const end = start + length;
  if (end > buf.length) return { kind: 'truncated' };
  if (crc32c(buf, 0, start, end) !== payloadCrc) return { kind: 'bad-payload', next: end };
  return { kind: 'ok', type, payload: buf.subarray(start, end), next: end };
}
