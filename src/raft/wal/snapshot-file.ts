import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ParleyError } from '../../wire/parley-error.js';
import type { Snapshot, SnapshotMetadata } from '../types.js';
import { crc32c } from './crc32c.js';
import { decodeSnapshotRecord, encodeSnapshotRecord } from './record-payloads.js';
import { dataKeyRequired, type RecordSealer } from './record-sealer.js';
import { hex16 } from './segment-name.js';

/**
 * Snapshot files: `snap-<term>-<index>.snap` beside the segments. Layout:
 *
 *   u32 CRC32C of everything after it | u32 metadata length | metadata | state-machine data
 *
 * or, with encryption at rest (record-sealer.ts; the marker is never a valid metadata length):
 *
 *   u32 CRC32C | u32 0xFFFFFFFF | u32 metadata length | metadata | key id, nonce, sealed data, tag
 *
 * The metadata (index, term, configuration) stays in the clear and is bound as AAD.
 *
 * A snapshot file is written (temp, fsync, rename, fsync dir) BEFORE the WAL record that
 * names it, so a WAL snapshot record always refers to a durable file. A file with no WAL
 * record (crash in between) is harmless and removed at the next snapshot.
 */

export function snapshotFileName(m: { index: number; term: number }): string {
  return `snap-${hex16(m.term)}-${hex16(m.index)}.snap`;
}

const SEALED_MARK = 0xffffffff;

/** The file's bytes; its data sealed by `sealer` when one is given. */
export function encodeSnapshotFile(s: Snapshot, sealer: RecordSealer | null = null): Uint8Array {
  const meta = encodeSnapshotRecord({ metadata: s.metadata, resetsLog: false });
  const data = sealer === null ? s.data : sealer.sealSnapshot(meta, s.data);
  const head = sealer === null ? 8 : 12;
  const out = new Uint8Array(head + meta.length + data.length);
  const view = new DataView(out.buffer);
  if (sealer !== null) view.setUint32(4, SEALED_MARK, true);
  view.setUint32(head - 4, meta.length, true);
  out.set(meta, head);
  out.set(data, head + meta.length);
  view.setUint32(0, crc32c(out, 0, 4, out.length), true);
  return out;
}

/** A snapshot read back, and whether its data was sealed on disk. */
export interface SnapshotRead {
  readonly snapshot: Snapshot;
  readonly sealed: boolean;
}

/**
 * Reads the snapshot file for `m`; a missing, damaged or mismatching file is DATA_LOSS, sealed
 * data without a `sealer` FAILED_PRECONDITION (the data key is needed).
 */
export function readSnapshotFile(dir: string, m: SnapshotMetadata, sealer: RecordSealer | null = null): SnapshotRead {
  const file = snapshotFileName(m);
  const path = join(dir, file);
  if (!existsSync(path)) {
    throw new ParleyError('DATA_LOSS', `snapshot file ${file} named by the WAL is missing`, { details: { file } });
  }
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const damaged = (why: string) =>
    new ParleyError('DATA_LOSS', `snapshot file ${file} is damaged: ${why}`, { details: { file } });
  if (bytes.length < 8) throw damaged('shorter than its header');
  if (view.getUint32(0, true) !== crc32c(bytes, 0, 4, bytes.length)) throw damaged('checksum mismatch');
  const sealed = view.getUint32(4, true) === SEALED_MARK;
  const head = sealed ? 12 : 8;
  if (bytes.length < head) throw damaged('shorter than its header');
  const metaLength = view.getUint32(head - 4, true);
  if (head + metaLength > bytes.length) throw damaged('metadata length out of range');
  const meta = bytes.subarray(head, head + metaLength);
  const { metadata } = decodeSnapshotRecord(meta);
  if (metadata.index !== m.index || metadata.term !== m.term) throw damaged('metadata does not match its name');
  const rest = bytes.subarray(head + metaLength);
  if (!sealed) return { snapshot: { metadata, data: new Uint8Array(rest) }, sealed };
  if (sealer === null) throw dataKeyRequired(rest[0] ?? 0, { file });
  return { snapshot: { metadata, data: sealer.openSnapshot(meta, rest, { file }) }, sealed };
}

/** Removes snapshot files (and stray temp files) other than `keep`. Best effort. */
export function removeOtherSnapshotFiles(dir: string, keep: string | null): void {
  for (const f of readdirSync(dir)) {
    if (f === keep) continue;
    if ((f.startsWith('snap-') && f.endsWith('.snap')) || f.endsWith('.tmp')) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        // already gone: nothing to do
      }
    }
  }
}
