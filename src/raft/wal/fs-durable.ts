import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/**
 * Small durable-filesystem helpers. All synchronous (see wal-storage.ts for why).
 *
 * On Linux a file's existence, name and removal are properties of its directory: after
 * creating, renaming or deleting a file, the directory must be fsynced for that change to
 * survive a crash. fdatasync of the file alone does not cover it.
 */

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeFully(fd: number, bytes: Uint8Array, position: number | null = null): void {
  let done = 0;
  while (done < bytes.length) {
    const n = writeSync(fd, bytes, done, bytes.length - done, position === null ? null : position + done);
    done += n;
  }
}

/**
 * Writes `bytes` to `path` atomically and durably: temp file, fsync, rename over the target,
 * fsync the directory. A crash leaves either the old file (plus a stray `.tmp`) or the new.
 */
export function writeFileDurably(dir: string, path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeFully(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}
