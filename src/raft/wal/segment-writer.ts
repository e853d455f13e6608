import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFully } from './fs-durable.js';
import { type SegmentName, segmentFileName } from './segment-name.js';

/**
 * The open, append-only tail segment. Appends go to an explicit position (pwrite) so that a
 * torn tail truncated at recovery is overwritten cleanly.
 */
export class SegmentWriter {
  private constructor(
    readonly segment: SegmentName,
    private fd: number,
    private size: number,
  ) {}

  get byteLength(): number {
    return this.size;
  }

  /**
   * Creates segment `seq` whose first bytes are `initial` (its header and restated state).
   * Written as a temp file, fsynced, renamed into place and the directory fsynced, so a
   * segment file never exists without an intact header.
   */
  static create(dir: string, seq: number, firstIndex: number, initial: Uint8Array): SegmentWriter {
    const file = segmentFileName(seq, firstIndex);
    const path = join(dir, file);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w+');
    try {
      writeFully(fd, initial, 0);
      fsyncSync(fd);
      renameSync(tmp, path);
      fsyncDir(dir);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new SegmentWriter({ seq, firstIndex, file }, fd, initial.length);
  }

  /** Opens an existing segment for appending after its `validBytes`, cutting a torn tail off. */
  static reopen(dir: string, segment: SegmentName, validBytes: number, torn: boolean): SegmentWriter {
    const fd = openSync(join(dir, segment.file), 'r+');
    if (torn) {
      ftruncateSync(fd, validBytes);
      fsyncSync(fd);
    }
    return new SegmentWriter(segment, fd, validBytes);
  }

  append(bytes: Uint8Array): void {
    writeFully(this.fd, bytes, this.size);
    this.size += bytes.length;
  }

  /** fdatasync: the appended data (and the file size it implies) is durable on return. */
  sync(): void {
    fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
