/**
 * Orchestrator side of a peer child process: spawn, wait for ready, send commands, stop. Every spawned child is
 * tracked, and killAllPeerProcesses() (installed on exit, SIGINT and SIGTERM) SIGKILLs whatever is still alive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ChildCommand, type ChildMessage, MARKER } from './peer-process-protocol.js';

const ENTRY = fileURLToPath(new URL('./peer-process.js', import.meta.url));
const live = new Set<ChildProcess>();

export class PeerStartError extends Error {
  override readonly name = 'PeerStartError';
  constructor(
    message: string,
    /** True when the system cannot run on this machine (e.g. no NATS server): skip it with a note. */
    readonly unavailable: boolean,
  ) {
    super(message);
  }
}

export interface SpawnOptions {
  /** Write a V8 CPU profile of this child into the directory (node --cpu-prof). */
  cpuProfileDir?: string;
  startTimeoutMs?: number;
  /** Pin the child to this CPU with taskset (Linux); taskset execs node, so the pid stays the child's. */
  pinCpu?: number;
}

export class PeerProcessHandle {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;
  private stderrTail = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly label: string,
    readonly address: string,
    readonly description: string,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.exited;
  }

  static spawn(system: string, role: 'server' | 'client', address?: string, options: SpawnOptions = {}) {
    return PeerProcessHandle.spawnScript(
      `${system} ${role}`,
      ENTRY,
      [system, role, ...(address ? [address] : [])],
      `${system}-${role}`,
      options,
    );
  }

  /**
   * Spawns any script that speaks the peer-process protocol (MARKER lines out, JSON commands in), e.g. a raft
   * benchmark member. `profileName` names the CPU profile file when options.cpuProfileDir is set.
   */
  static spawnScript(
    label: string,
    entry: string,
    scriptArgs: string[],
    profileName: string,
    options: SpawnOptions = {},
  ): Promise<PeerProcessHandle> {
    const nodeArgs: string[] = [];
    if (options.cpuProfileDir) {
      nodeArgs.push(
        '--cpu-prof',
        `--cpu-prof-dir=${options.cpuProfileDir}`,
        `--cpu-prof-name=${profileName}.cpuprofile`,
      );
    }
    const args = [...nodeArgs, entry, ...scriptArgs];
    const [command, commandArgs] =
      options.pinCpu === undefined
        ? [process.execPath, args]
        : ['taskset', ['-c', String(options.pinCpu), process.execPath, ...args]];
    const child = spawn(command, commandArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    return new Promise<PeerProcessHandle>((resolve, reject) => {
      let handle: PeerProcessHandle | undefined;
      let stderr = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new PeerStartError(`${label}: not ready after ${options.startTimeoutMs ?? 30_000} ms`, false));
      }, options.startTimeoutMs ?? 30_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-2000);
        if (handle) handle.stderrTail = stderr;
      });
      child.on('exit', (code, signal) => {
        live.delete(child);
        clearTimeout(timer);
        if (!handle) {
          reject(
            new PeerStartError(
              `${label}: exited before ready (code ${code}, signal ${signal}) ${stderr.trim()}`,
              false,
            ),
          );
          return;
        }
        handle.exited = true;
        for (const { reject: fail } of handle.waiting.values()) {
          fail(new Error(`${label}: process exited (code ${code}, signal ${signal}) ${handle.stderrTail.trim()}`));
        }
        handle.waiting.clear();
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.startsWith(MARKER)) return;
        const message = JSON.parse(line.slice(MARKER.length)) as ChildMessage;
        if (message.type === 'ready' && !handle) {
          clearTimeout(timer);
          handle = new PeerProcessHandle(child, label, message.address, message.description);
          resolve(handle);
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new PeerStartError(`${label}: ${message.message}`, message.unavailable));
        } else if (message.type === 'reply' && handle) {
          const waiter = handle.waiting.get(message.id);
          handle.waiting.delete(message.id);
          if (message.ok) waiter?.resolve(message.result);
          else waiter?.reject(new Error(`${label}: ${message.error}`));
        }
      });
    });
  }

  request<T>(cmd: string, args: Record<string, number> = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label}: process has exited`));
    const id = this.nextId++;
    const command: ChildCommand = { id, cmd, args };
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    });
  }

  /** Asks the child to stop cleanly (so CPU profiles are written); SIGKILL after timeoutMs. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.request('stop').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

export function killAllPeerProcesses(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

let installed = false;

/** Makes sure no child outlives the orchestrator, whether it ends normally, fails or is interrupted. */
export function installChildCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllPeerProcesses);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAllPeerProcesses();
      process.exit(130);
    });
  }
}
