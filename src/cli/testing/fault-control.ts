import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { FaultInjector, type FaultRule } from '../../transport/testing/fault-injector.js';

/**
 * Test-only remote control of a process's FaultInjector through a file, for the nemesis tests.
 *
 * Enabled only when the environment variable `PARLEY_FAULT_FILE` names a file; unset (the
 * default), the process has no injector at all and this module does nothing. The file holds
 * `{ "version": n, "rules": FaultRule[] }`. The process reads it every 50 ms, applies each new
 * version and then writes `{ "version": n, "ok": true }` (or `"error"`) to `<file>.ack`, so the
 * controller knows when a partition has begun. A file, not a service: a partition must not cut
 * the controller off from the process it is supposed to heal later.
 */
export const FAULT_FILE_ENV = 'PARLEY_FAULT_FILE';

export interface FaultFile {
  readonly version: number;
  readonly rules: readonly FaultRule[];
}

export interface FaultAck {
  readonly version: number;
  readonly ok: boolean;
  readonly error?: string;
}

export interface FaultControl {
  readonly injector: FaultInjector;
  stop(): void;
}

/** Starts file-controlled fault injection when `PARLEY_FAULT_FILE` is set; undefined otherwise. */
export function faultControlFromEnv(env: NodeJS.ProcessEnv = process.env): FaultControl | undefined {
  const path = env[FAULT_FILE_ENV];
  if (path === undefined || path === '') return undefined;
  return watchFaultFile(path);
}

export function watchFaultFile(path: string, injector = new FaultInjector()): FaultControl {
  let applied = -1;
  const load = () => {
    let file: FaultFile;
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as FaultFile;
    } catch {
      return; // missing or half-written: the next poll sees the finished file
    }
    if (typeof file?.version !== 'number' || file.version === applied) return;
    applied = file.version;
    let ack: FaultAck;
    try {
      injector.setRules(Array.isArray(file.rules) ? file.rules : []);
      ack = { version: file.version, ok: true };
    } catch (err) {
      ack = { version: file.version, ok: false, error: (err as Error).message };
    }
    writeAtomically(`${path}.ack`, JSON.stringify(ack));
  };
  load();
  // Reads the file itself on every tick rather than watching its stat: a stat watcher compares
  // inode, size and a coarse mtime, and a rename that reuses the old inode within one clock tick
  // was seen to go unnoticed (an acknowledgement never came).
  const timer = setInterval(load, 50);
  timer.unref();
  return {
    injector,
    stop: () => clearInterval(timer),
  };
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
