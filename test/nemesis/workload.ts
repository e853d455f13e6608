/**
 * Concurrent clients doing get / put / compare-and-set / txn / delete over a small key set, each
 * operation recorded (invocation before the request, completion after it) for the
 * linearizability checker. Every written value is unique (`c<client>-<n>`), so a read names the
 * write it saw and a watch event names the write it reports.
 *
 * An error of any kind is recorded as an unknown outcome: the client retries internally until its
 * deadline, so an error it returns never proves that the write did not happen.
 */
import { HistoryRecorder, type KvInput, type KvOutput, type Operation } from '../support/linearizability/index.js';
import type { KvTarget } from './target.js';

export interface WorkloadOptions {
  /** One target per client (each its own connection), or one shared. */
  readonly targets: readonly KvTarget[];
  readonly clients: number;
  /** Keys are k0 … k<keys-1>. */
  readonly keys: number;
  readonly random: () => number;
}

export interface WorkloadStats {
  readonly ops: number;
  readonly ok: number;
  readonly unknown: number;
  readonly byOp: Readonly<Record<string, number>>;
  /** The first few error messages seen (for the run log). */
  readonly errors: readonly string[];
}

/** Invariant: `recorder` holds exactly the operations issued by the client loops, pending ones included. */
export class Workload {
  readonly recorder = new HistoryRecorder<KvInput, KvOutput>();
  private running = false;
  private loops: Promise<void>[] = [];
  private counter = 0;
  private ok = 0;
  private unknown = 0;
  private readonly byOp: Record<string, number> = {};
  private readonly errors = new Map<string, number>();
  /** The last value each client saw per key: CAS expectations that often hold. */
  private readonly seen: Map<string, string | null>[] = [];

  constructor(private readonly options: WorkloadOptions) {}

  start(): void {
    this.running = true;
    for (let c = 0; c < this.options.clients; c++) {
      this.seen.push(new Map());
      const target = this.options.targets[c % this.options.targets.length]!;
      this.loops.push(this.loop(c, target));
    }
  }

  /** Stops issuing operations and waits for the ones in flight (each bounded by the client's deadline). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  history(): Operation<KvInput, KvOutput>[] {
    return this.recorder.history();
  }

  stats(): WorkloadStats {
    return {
      ops: this.ok + this.unknown,
      ok: this.ok,
      unknown: this.unknown,
      byOp: { ...this.byOp },
      errors: [...this.errors].map(([message, n]) => `${n}× ${message}`).slice(0, 8),
    };
  }

  private async loop(client: number, target: KvTarget): Promise<void> {
    while (this.running) {
      const input = this.nextInput(client);
      this.byOp[input.op] = (this.byOp[input.op] ?? 0) + 1;
      const handle = this.recorder.invoke(client, input);
      try {
        const output = await target.run(input);
        this.recorder.ok(handle, output);
        this.ok++;
        this.remember(client, input, output);
      } catch (err) {
        this.recorder.unknown(handle);
        this.unknown++;
        const message = String((err as Error)?.message ?? err).slice(0, 160);
        this.errors.set(message, (this.errors.get(message) ?? 0) + 1);
        // Give a cluster without a leader a moment instead of spinning on fast failures.
        await new Promise((resolve) => setTimeout(resolve, 20 + this.options.random() * 80));
      }
    }
  }

  private nextInput(client: number): KvInput {
    const r = this.options.random;
    const key = (): string => `k${Math.floor(r() * this.options.keys)}`;
    const value = (): string => `c${client}-${++this.counter}`;
    const k = key();
    const x = r();
    if (x < 0.35) return { op: 'get', key: k };
    if (x < 0.6) return { op: 'put', key: k, value: value() };
    if (x < 0.68) return { op: 'delete', key: k };
    if (x < 0.85) {
      const expect = r() < 0.8 ? (this.seen[client]!.get(k) ?? null) : null;
      return { op: 'cas', key: k, expect: { value: expect }, value: value() };
    }
    // Multi-key txns stay within a pair of keys (k0+k1, k2+k3, …), so the checker's partitions by
    // connected keys stay small on long runs.
    const other = `k${(Number(k.slice(1)) ^ 1) % this.options.keys}`;
    const equals = r() < 0.7 ? (this.seen[client]!.get(k) ?? null) : null;
    if (r() < 0.5) {
      // An atomic two-key write: a watch must deliver both puts in one revision.
      return {
        op: 'txn',
        compare: [{ key: k, target: 'value', equals }],
        success: [
          { op: 'put', key: k, value: value() },
          { op: 'put', key: other, value: value() },
        ],
        failure: [{ op: 'get', key: k }],
      };
    }
    return {
      op: 'txn',
      compare: [{ key: k, target: 'value', equals }],
      success: [
        { op: 'put', key: other, value: value() },
        { op: 'get', key: k },
      ],
      failure: [
        { op: 'get', key: other },
        { op: 'delete', key: k },
      ],
    };
  }

  private remember(client: number, input: KvInput, output: KvOutput): void {
    const seen = this.seen[client]!;
    if (input.op === 'get' && output.op === 'get') seen.set(input.key, output.value);
    else if (input.op === 'put') seen.set(input.key, input.value);
    else if (input.op === 'delete') seen.set(input.key, null);
    else if (input.op === 'cas' && output.op === 'cas' && output.succeeded) seen.set(input.key, input.value);
  }
}
