/**
 * Spawns `parley server` and `parley node` processes (the real CLI) for the KV integration
 * tests, and tracks them so none outlives its test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The parley command's entry in this same build (dist/src/cli/bin.js), so the tests run the code just compiled. */
const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

export interface CliProcess {
  readonly name: string;
  readonly address: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  readonly alive: boolean;
}

/** Runs `parley <args>` and resolves once it printed its `listening on host:port` line. */
export function spawnCli(name: string, args: readonly string[], live: CliProcess[]): Promise<CliProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      reject(new Error(`${name} printed no ready line within ${READY_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, READY_TIMEOUT_MS);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready; stderr: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      const proc: CliProcess = {
        name,
        address: m[1]!,
        child,
        exited,
        stderr: () => stderr,
        get alive() {
          return child.exitCode === null && child.signalCode === null;
        },
      };
      live.push(proc);
      resolve(proc);
    });
  });
}

/** `n` loopback ports that were free a moment ago (the servers must know each other's ports up front). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
