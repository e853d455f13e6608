/**
 * Spawns fixture node processes (fixtures/node-process.ts) for the integration tests and makes
 * sure none outlives its test: every process is tracked, and `killAll` SIGKILLs whatever is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FixtureConfig } from './fixtures/config.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/node-process.js', import.meta.url));

/** A fixture node running in its own OS process. */
export interface NodeProcess {
  readonly id: string;
  /** host:port the node listens on. */
  readonly address: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** JSON lines the process printed after its ready line (e.g. its final report on SIGTERM). */
  readonly messages: readonly unknown[];
  readonly alive: boolean;
}

const READY_TIMEOUT_MS = 15_000;

/** Spawns a fixture node and resolves once it printed its `{"ready": address}` line. */
export function spawnNode(config: FixtureConfig, live: NodeProcess[] = []): Promise<NodeProcess> {
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${config.id} printed no ready line within ${READY_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, READY_TIMEOUT_MS);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`node ${config.id} exited (${code ?? signal}) before it was ready; stderr: ${stderr}`));
    });
    const messages: unknown[] = [];
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      lines.on('line', (more) => {
        try {
          messages.push(JSON.parse(more));
        } catch {
          messages.push(more);
        }
      });
      let address: string;
      try {
        address = (JSON.parse(line) as { ready: string }).ready;
      } catch {
        child.kill('SIGKILL');
        reject(new Error(`node ${config.id} printed '${line}' instead of its ready line`));
        return;
      }
      const proc: NodeProcess = {
        id: config.id,
        address,
        child,
        exited,
        stderr: () => stderr,
        messages,
        get alive() {
          return child.exitCode === null && child.signalCode === null;
        },
      };
      live.push(proc);
      resolve(proc);
    });
  });
}

/** A child process as the helpers here track it (NodeProcess, and the CLI processes of kv-processes.ts). */
export type KillableProcess = Pick<NodeProcess, 'child' | 'alive'> & { readonly exited: Promise<unknown> };

/** SIGKILLs every process still running and waits (bounded) for them to exit. */
export async function killAll(procs: readonly KillableProcess[]): Promise<void> {
  for (const p of procs) if (p.alive) p.child.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 5000);
  });
  await Promise.race([Promise.all(procs.map((p) => p.exited)), giveUp]);
  clearTimeout(timer);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 20 ms until it holds; throws, naming `what`, after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

/** Resolves with the promise's value, or rejects naming `what` if it has not settled within `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms (it hangs)`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
