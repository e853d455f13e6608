/**
 * A live Parley process for the process-level hostile tests: `parley node <module>` or
 * `parley server`, spawned from this build as the CLI tests spawn them, with what the tests read
 * from outside: its address (from the ready line), its resident memory and its open file
 * descriptors (from /proc, Linux), and whether it is still running. It runs with gc-on-signal.ts
 * preloaded, so a test can make it collect garbage before it reads its memory, and with glibc's
 * mmap threshold fixed (below), so freed buffers leave the resident set.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { waitUntil } from '../../src/base/testing/wait-until.js';
import { cliEnv, PARLEY_BIN } from '../../src/cli/testing/run-cli.js';

export interface LiveProcess {
  readonly name: string;
  readonly address: string;
  readonly pid: number;
  /** Everything it wrote to stderr (its log). */
  readonly stderr: () => string;
  readonly exited: () => boolean;
  /** Resident set size in bytes (/proc/<pid>/status VmRSS). */
  readonly rssBytes: () => number;
  /** Open file descriptors (sockets included). */
  readonly openFds: () => number;
  /** Runs a full GC in the process (see gc-on-signal.ts) and resolves once it is done. */
  collectGarbage(): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns `parley <args>` and resolves once it printed `… listening on <address> …`. */
export async function startLive(name: string, args: string[]): Promise<LiveProcess> {
  const preload = new URL('./gc-on-signal.js', import.meta.url).href;
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', preload, PARLEY_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // A fixed mmap threshold: glibc otherwise raises it after the first large free, and keeps
    // later freed megabyte buffers in its heap, where resident memory never shrinks (measured: a
    // server back to 8 MiB of JS heap after GC still held +100 MiB of RSS, flat over more attacks).
    // Fixed, freed buffers go back to the OS, and RSS shows what the process really holds.
    env: cliEnv({ MALLOC_MMAP_THRESHOLD_: '131072' }),
  });
  let stderr = '';
  let exited = false;
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      exited = true;
      r(code);
    }),
  );
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no ready line; stderr: ${stderr}`)), 20_000);
    void exit.then((code) => reject(new Error(`${name} exited with ${code} before it was ready; stderr: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = / listening on (\S+) /.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  const pid = child.pid!;
  return {
    name,
    address,
    pid,
    stderr: () => stderr,
    exited: () => exited,
    rssBytes: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(m![1]) * 1024;
    },
    openFds: () => readdirSync(`/proc/${pid}/fd`).length,
    async collectGarbage() {
      const done = (stderr.match(/parley-test: gc done/g) ?? []).length;
      child.kill('SIGUSR2');
      await waitUntil(
        () => (stderr.match(/parley-test: gc done/g) ?? []).length > done,
        10_000,
        `${name} to run its garbage collector`,
      );
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      return exit;
    },
  };
}
