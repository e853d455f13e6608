import { ParleyError } from '../../wire/parley-error.js';
import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from '../types.js';

/**
 * Payload encodings of the WAL record types. Numbers (terms, indexes, sequence numbers) are
 * stored as float64, which is exact for every integer up to 2^53 (the bound types.ts states).
 * Decoders throw ParleyError('DATA_LOSS') on a payload whose checksum was right but whose
 * shape is not: that is a bug or a foreign file, never something to skip.
 */

const FORMAT_MAGIC = 0x4c415750; // 'PWAL' read little-endian
export const FORMAT_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function malformed(what: string): ParleyError {
  return new ParleyError('DATA_LOSS', `malformed WAL ${what} record (checksum matched, layout did not)`);
}

// ---- segment header: magic u32, version u32, seq f64, firstIndex f64, previousBytes f64 ----

export interface SegmentHeader {
  readonly seq: number;
  /** lastIndex()+1 when the segment was created; every entry in earlier segments is below it. */
  readonly firstIndex: number;
  /**
   * Final byte length of the previous segment (-1 for the first segment ever). A non-last
   * segment cut short exactly at a record boundary would otherwise read as clean.
   */
  readonly previousBytes: number;
}

export function encodeSegmentHeader(h: SegmentHeader): Uint8Array {
  const out = new Uint8Array(32);
  const v = viewOf(out);
  v.setUint32(0, FORMAT_MAGIC, true);
  v.setUint32(4, FORMAT_VERSION, true);
  v.setFloat64(8, h.seq, true);
  v.setFloat64(16, h.firstIndex, true);
  v.setFloat64(24, h.previousBytes, true);
  return out;
}

export function decodeSegmentHeader(p: Uint8Array): SegmentHeader {
  if (p.length !== 32) throw malformed('segment header');
  const v = viewOf(p);
  if (v.getUint32(0, true) !== FORMAT_MAGIC) throw malformed('segment header (bad magic)');
  const version = v.getUint32(4, true);
  if (version !== FORMAT_VERSION) {
    throw new ParleyError(
      'FAILED_PRECONDITION',
      `WAL format version ${version} is not supported (expected ${FORMAT_VERSION})`,
    );
  }
  return { seq: v.getFloat64(8, true), firstIndex: v.getFloat64(16, true), previousBytes: v.getFloat64(24, true) };
}

// ---- entry: term f64, index f64, type u8, data ----

export const ENTRY_FIXED_BYTES = 17;

/** Writes an entry payload into `out[at]` (ENTRY_FIXED_BYTES + data.length bytes). */
export function writeEntryPayload(out: Uint8Array, at: number, e: Entry): void {
  const v = viewOf(out);
  v.setFloat64(at, e.term, true);
  v.setFloat64(at + 8, e.index, true);
  out[at + 16] = e.type;
  out.set(e.data, at + ENTRY_FIXED_BYTES);
}

export function encodeEntry(e: Entry): Uint8Array {
  const out = new Uint8Array(ENTRY_FIXED_BYTES + e.data.length);
  writeEntryPayload(out, 0, e);
  return out;
}

/** Decodes an entry; `data` is copied so the caller may drop the segment buffer. */
export function decodeEntry(p: Uint8Array): Entry {
  if (p.length < ENTRY_FIXED_BYTES) throw malformed('entry');
  const v = viewOf(p);
  const type = p[16]!;
  if (type !== 0 && type !== 1) throw malformed('entry (unknown entry type)');
  return {
    term: v.getFloat64(0, true),
    index: v.getFloat64(8, true),
    type: type as EntryType,
    data: p.slice(ENTRY_FIXED_BYTES),
  };
}

// ---- hard state: term f64, commit f64, hasVote u8, vote utf8 ----

export function encodeHardState(hs: HardState): Uint8Array {
  const vote = hs.vote === null ? new Uint8Array(0) : encoder.encode(hs.vote);
  const out = new Uint8Array(17 + vote.length);
  const v = viewOf(out);
  v.setFloat64(0, hs.term, true);
  v.setFloat64(8, hs.commit, true);
  out[16] = hs.vote === null ? 0 : 1;
  out.set(vote, 17);
  return out;
}

export function decodeHardState(p: Uint8Array): HardState {
  if (p.length < 17 || p[16]! > 1) throw malformed('hard state');
  const v = viewOf(p);
  const vote = p[16] === 0 ? null : decoder.decode(p.subarray(17));
  return { term: v.getFloat64(0, true), commit: v.getFloat64(8, true), vote };
}

// ---- snapshot metadata: index f64, term f64, resetsLog u8, confState JSON ----

/**
 * `resetsLog` distinguishes a snapshot received from the leader (the log is replaced by the
 * snapshot: every entry is dropped) from one the application took of its own state (the
 * log is kept; compaction is a separate, explicit step).
 */
export interface SnapshotRecord {
  readonly metadata: SnapshotMetadata;
  readonly resetsLog: boolean;
}

export function encodeSnapshotRecord(r: SnapshotRecord): Uint8Array {
  const conf = encoder.encode(JSON.stringify(r.metadata.confState));
  const out = new Uint8Array(17 + conf.length);
  const v = viewOf(out);
  v.setFloat64(0, r.metadata.index, true);
  v.setFloat64(8, r.metadata.term, true);
  out[16] = r.resetsLog ? 1 : 0;
  out.set(conf, 17);
  return out;
}

export function decodeSnapshotRecord(p: Uint8Array): SnapshotRecord {
  if (p.length < 17 || p[16]! > 1) throw malformed('snapshot');
  const v = viewOf(p);
  let confState: ConfState;
  try {
    confState = parseConfState(decoder.decode(p.subarray(17)));
  } catch {
    throw malformed('snapshot (conf state)');
  }
  return {
    metadata: { index: v.getFloat64(0, true), term: v.getFloat64(8, true), confState },
    resetsLog: p[16] === 1,
  };
}

export function parseConfState(json: string): ConfState {
  const o = JSON.parse(json) as Record<string, unknown>;
  const ids = (x: unknown): string[] => {
    if (!Array.isArray(x) || !x.every((s) => typeof s === 'string')) throw new Error('not a string array');
    return x;
  };
  return {
    voters: ids(o.voters),
    votersOutgoing: ids(o.votersOutgoing),
    learners: ids(o.learners),
    learnersNext: ids(o.learnersNext),
    autoLeave: o.autoLeave === true,
  };
}

// ---- compacted mark: index f64, term f64 ----

export interface LogMark {
  readonly index: number;
  readonly term: number;
}

export function encodeLogMark(m: LogMark): Uint8Array {
  const out = new Uint8Array(16);
  const v = viewOf(out);
  v.setFloat64(0, m.index, true);
  v.setFloat64(8, m.term, true);
  return out;
}

export function decodeLogMark(p: Uint8Array): LogMark {
  if (p.length !== 16) throw malformed('compaction mark');
  const v = viewOf(p);
  return { index: v.getFloat64(0, true), term: v.getFloat64(8, true) };
}
