import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ParleyError } from '../../wire/parley-error.js';
import type { Snapshot, SnapshotMetadata } from '../types.js';
import { crc32c } from './crc32c.js';
import { decodeSnapshotRecord, encodeSnapshotRecord } from './record-payloads.js';
import { hex16 } from './segment-name.js';

/**
 * Snapshot files: `snap-<term>-<index>.snap` beside the segments. Layout:
 *
 *   u32 CRC32C of everything after it | u32 metadata length | metadata | state-machine data
 *
 * A snapshot file is written (temp, fsync, rename, fsync dir) BEFORE the WAL record that
 * names it, so a WAL snapshot record always refers to a durable file. A file with no WAL
 * record (crash in between) is harmless and removed at the next snapshot.
 */

export function snapshotFileName(m: { index: number; term: number }): string {
  return `snap-${hex16(m.term)}-${hex16(m.index)}.snap`;
}

export function encodeSnapshotFile(s: Snapshot): Uint8Array {
  const meta = encodeSnapshotRecord({ metadata: s.metadata, resetsLog: false });
  const out = new Uint8Array(8 + meta.length + s.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(4, meta.length, true);
  out.set(meta, 8);
  out.set(s.data, 8 + meta.length);
  view.setUint32(0, crc32c(out, 0, 4, out.length), true);
  return out;
}

/** Reads the snapshot file for `m`; a missing, damaged or mismatching file is DATA_LOSS. */
export function readSnapshotFile(dir: string, m: SnapshotMetadata): Snapshot {
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
  const metaLength = view.getUint32(4, true);
  if (8 + metaLength > bytes.length) throw damaged('metadata length out of range');
  const { metadata } = decodeSnapshotRecord(bytes.subarray(8, 8 + metaLength));
  if (metadata.index !== m.index || metadata.term !== m.term) throw damaged('metadata does not match its name');
  return { metadata, data: new Uint8Array(bytes.subarray(8 + metaLength)) };
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
