/**
 * A cluster of `parley server` OS processes under the nemesis's control: start, SIGKILL and
 * restart from the data directory, SIGSTOP/SIGCONT, network partitions through each process's
 * fault file (PARLEY_FAULT_FILE, src/cli/testing/fault-control.ts, read by ./faulty-server.ts), and membership changes through
 * the `$cluster` service (add/remove). No process outlives `shutdown()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type FaultAck, writeAtomically } from '../../src/cli/testing/fault-control.js';
import type { FaultRule } from '../../src/transport/testing/fault-injector.js';

/** The parley command's entry in this same build (dist/src/cli/bin.js). */
/** `parley server` with its transport wrapped in a FaultyTransport driven by PARLEY_FAULT_FILE. */
const FAULTY_SERVER = fileURLToPath(new URL('./faulty-server.js', import.meta.url));
/** Membership changes, sent to the cluster's `$cluster` service (what `parley cluster add|remove` calls). */
export type ClusterAdmin = (action: 'add' | 'remove', params: { id: string; address?: string }) => Promise<unknown>;
const READY_TIMEOUT_MS = 30_000;

export type Log = (line: string) => void;

/** Finds a free TCP port on 127.0.0.1 (listen on 0, close); the caller binds it soon after. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One member: its identity, files, and (while running) its process. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderrTail = '';
  private faultVersion = 0;
  paused = false;

  constructor(
    readonly id: string,
    readonly address: string,
    readonly dataDir: string,
    private readonly log: Log,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.writeFaults([]);
  }

  get faultFile(): string {
    return `${this.dataDir}.faults.json`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once it printed its ready line. */
  async start(args: readonly string[]): Promise<void> {
    if (this.running) throw new Error(`${this.id} is already running`);
    const child = spawn(
      process.execPath,
      [FAULTY_SERVER, '--id', this.id, '--data', this.dataDir, '--listen', this.address, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PARLEY_FAULT_FILE: this.faultFile } },
    );
    this.child = child;
    this.paused = false;
    this.stderrTail = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-4000);
    });
    let ready = false;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (ready && signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0) {
        this.log(`!! ${this.id} exited on its own (${code ?? signal}); stderr: ${this.stderrTail.slice(-1500)}`);
      }
    });
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${this.id} printed no ready line within ${READY_TIMEOUT_MS} ms; stderr: ${this.stderrTail}`));
      }, READY_TIMEOUT_MS);
      void this.exited.then(() => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`${this.id} exited before it was ready; stderr: ${this.stderrTail}`));
      });
      lines.on('line', (line) => {
        if (!ready && /listening on/.test(line)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Sends `signal` and waits for the exit (SIGKILL after 10 s if the process does not exit). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!this.running || child === undefined) return;
    if (this.paused) child.kill('SIGCONT');
    this.paused = false;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  pause(): void {
    if (!this.running || this.paused) return;
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.running || !this.paused) return;
    this.child!.kill('SIGCONT');
    this.paused = false;
  }

  /**
   * Replaces this member's fault rules. When the process runs (and is not paused) waits until it
   * acknowledged them; a stopped process reads them when it starts.
   */
  async setFaults(rules: readonly FaultRule[]): Promise<void> {
    const version = this.writeFaults(rules);
    if (!this.running || this.paused) return;
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      try {
        const ack = JSON.parse(readFileSync(`${this.faultFile}.ack`, 'utf8')) as FaultAck;
        if (ack.version === version) {
          if (!ack.ok) throw new Error(`${this.id} refused fault rules: ${ack.error}`);
          return;
        }
      } catch (err) {
        if ((err as Error).message.includes('refused')) throw err;
      }
      await delay(20);
    }
    this.log(`!! ${this.id} did not acknowledge fault rules v${version} within 10 s`);
  }

  /** The end of this member's stderr, for failure reports. */
  stderr(): string {
    return this.stderrTail;
  }

  private writeFaults(rules: readonly FaultRule[]): number {
    const version = ++this.faultVersion;
    writeAtomically(this.faultFile, JSON.stringify({ version, rules }));
    return version;
  }
}

export class ServerCluster {
  /** Current voting members, by id. Removed members leave this map. */
  readonly members = new Map<string, ServerProcess>();
  /** The addresses of the initial members: what clients are given. */
  readonly initialAddresses: string[] = [];
  private nextId: number;

  private constructor(
    private readonly root: string,
    private readonly log: Log,
    size: number,
  ) {
    this.nextId = size + 1;
  }

  /** Starts `size` members n1…n<size> on free ports with data under `root`. */
  static async start(root: string, log: Log, size = 3): Promise<ServerCluster> {
    const cluster = new ServerCluster(root, log, size);
    for (let i = 1; i <= size; i++) {
      const id = `n${i}`;
      const address = `127.0.0.1:${await freePort()}`;
      cluster.members.set(id, new ServerProcess(id, address, join(root, id), log));
      cluster.initialAddresses.push(address);
    }
    const started = await Promise.allSettled([...cluster.members.values()].map((m) => m.start(cluster.startArgs())));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await cluster.shutdown();
      throw failed.reason;
    }
    return cluster;
  }

  get(id: string): ServerProcess {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  ids(): string[] {
    return [...this.members.keys()];
  }

  addresses(): string[] {
    return [...this.members.values()].map((m) => m.address);
  }

  /** The flags a member starts (or restarts) with: every current member as a peer. */
  startArgs(): string[] {
    return ['--peers', [...this.members.values()].map((m) => `${m.id}=${m.address}`).join(','), '--log-level', 'warn'];
  }

  /** Cuts every link between `group` and the other members (both directions); the rest stay connected. */
  async partition(group: readonly string[]): Promise<void> {
    const inside = new Set(group);
    await Promise.all(
      [...this.members.values()].map((m) => {
        const cut = this.ids().filter((other) => other !== m.id && inside.has(other) !== inside.has(m.id));
        return m.setFaults(cut.map((peer) => ({ peer, drop: 1 })));
      }),
    );
  }

  /** Makes every link between `id` and the other members lossy and slow (both directions). */
  async degrade(id: string, fault: { drop: number; delayMs: number }): Promise<void> {
    await Promise.all(
      [...this.members.values()].map((m) => {
        const peers = m.id === id ? this.ids().filter((other) => other !== id) : [id];
        return m.setFaults(peers.map((peer) => ({ peer, ...fault })));
      }),
    );
  }

  async heal(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.setFaults([])));
  }

  /** Adds a fresh member: `$cluster.add`, then starts it with --join. Returns its id. */
  async addMember(admin: ClusterAdmin): Promise<string> {
    const id = `n${this.nextId++}`;
    const address = `127.0.0.1:${await freePort()}`;
    const member = new ServerProcess(id, address, join(this.root, id), this.log);
    await this.retry(`cluster add ${id}`, () => admin('add', { id, address }));
    this.members.set(id, member);
    await member.start([...this.startArgs(), '--join']);
    return id;
  }

  /** Removes a member through the cluster (`$cluster.remove`), then stops its process and deletes its data. */
  async removeMember(admin: ClusterAdmin, id: string): Promise<void> {
    const member = this.get(id);
    await this.retry(`cluster remove ${id}`, () => admin('remove', { id }));
    this.members.delete(id);
    await member.kill('SIGKILL');
    rmSync(member.dataDir, { recursive: true, force: true });
  }

  /** Resumes, heals and (re)starts every member: the state the final checks run in. */
  async restoreAll(): Promise<void> {
    for (const m of this.members.values()) m.resume();
    await this.heal();
    for (const m of this.members.values()) if (!m.running) await m.start(this.startArgs());
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.kill('SIGKILL')));
  }

  private async retry<T>(what: string, fn: () => Promise<T>, attempts = 5): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (i >= attempts) throw err;
        this.log(`   ${what} failed (attempt ${i}): ${(err as Error).message.slice(0, 200)}; retrying`);
        await delay(500 * i);
      }
    }
  }
}
