import type { Prng } from '../../base/random.js';
import type { SimCluster } from '../../raft/sim/sim-cluster.js';
import type { ConsumerConfig, ConsumerMode, PartitionCommand, StreamConfig } from '../types.js';
import type { ConsumerSpec, HistoryRecord } from './history.js';
import { PartitionRequests } from './partition-requests.js';
import { type ClientContext, ConsumerWorker, Publisher, type WorkerBehaviour } from './queue-clients.js';

/** Everything the seed decides about the queue clients (printed with --verbose). */
export interface QueueWorkloadProfile {
  readonly msPerStep: number;
  readonly maxSkewMs: number;
  /** Steps a client waits for an answer before calling it unknown. */
  readonly timeoutSteps: number;
  readonly publishers: number;
  readonly publishRate: number;
  readonly keys: number;
  readonly keyed: number;
  readonly poison: number;
  readonly ackWaitMs: number;
  readonly backoffMs: readonly number[];
  readonly maxDeliver: number;
  readonly maxAckPending: number;
  /** Behaviours of the workers of the competing consumer, then of the ordered one. */
  readonly competingWorkers: readonly WorkerBehaviour[];
  readonly orderedWorkers: readonly WorkerBehaviour[];
  readonly fetchRate: number;
  readonly workerCrashRate: number;
  /** A tick command every this many steps. */
  readonly tickEvery: number;
}

export const STREAM = 'orders';

export function streamConfig(): StreamConfig {
  return {
    name: STREAM,
    subjects: ['orders.>'],
    partitions: 1,
    replicas: 3,
    retention: 'limits',
    discard: 'old',
    maxMessages: 0,
    maxBytes: 0,
    maxAgeMs: 0,
    maxMessageBytes: 1 << 20,
    // Longer than any run: a retry is always inside the window, so a duplicate is a bug.
    dedupWindowMs: 3_600_000,
    compactByKey: false,
    maxDelayMs: 86_400_000,
  };
}

function consumerConfig(name: string, mode: ConsumerMode, p: QueueWorkloadProfile): ConsumerConfig {
  return {
    name,
    durable: true,
    inactiveMs: 3_600_000,
    mode,
    deliverFrom: { from: 'first' },
    ackWaitMs: p.ackWaitMs,
    backoffMs: p.backoffMs,
    maxDeliver: p.maxDeliver,
    maxAckPending: p.maxAckPending,
  };
}

/**
 * The queue clients of one simulated run: the setup (the stream's partition and two durable
 * consumers, `work` competing and `ordered` ordered-by-key, created at the leader and retried
 * until applied), publishers, workers of both consumers with mixed behaviours (prompt, slow,
 * never acking, crashing), and a ticker that proposes `tick` at the leader. `drain()` stops new
 * publishes and makes every worker settle everything promptly; `quietPublishers()` says when no
 * publisher has anything left.
 */
export class QueueWorkload {
  readonly history: HistoryRecord[] = [];
  readonly requests: PartitionRequests;
  readonly publishers: Publisher[] = [];
  readonly workers: ConsumerWorker[] = [];
  readonly consumers: ConsumerSpec[];
  private readonly setup: PartitionCommand[];
  private setupBusy = false;
  private lastTick = 0;
  stats = { ticks: 0, deadLetteredByTick: 0 };

  constructor(
    private readonly cluster: SimCluster,
    rng: Prng,
    private readonly p: QueueWorkloadProfile,
  ) {
    this.requests = new PartitionRequests(cluster, rng.fork(), p.msPerStep, p.maxSkewMs, p.timeoutSteps);
    const ctx: ClientContext = {
      requests: this.requests,
      rng: rng.fork(),
      history: this.history,
      now: () => cluster.now,
    };
    const keys = Array.from({ length: p.keys }, (_, i) => `k${i}`);
    for (let i = 1; i <= p.publishers; i++) {
      this.publishers.push(
        new Publisher(`p${i}`, ctx, { rate: p.publishRate, keys, keyed: p.keyed, poison: p.poison, maxAttempts: 8 }),
      );
    }
    const ackWaitSteps = Math.ceil(p.ackWaitMs / p.msPerStep);
    const addWorkers = (consumer: string, behaviours: readonly WorkerBehaviour[]): void => {
      behaviours.forEach((behaviour, i) => {
        this.workers.push(
          new ConsumerWorker(`${consumer}-w${i + 1}-${behaviour}`, ctx, {
            consumer,
            behaviour,
            ackWaitSteps,
            fetchRate: p.fetchRate,
            crashRate: p.workerCrashRate,
          }),
        );
      });
    };
    addWorkers('work', p.competingWorkers);
    addWorkers('ordered', p.orderedWorkers);
    const work = consumerConfig('work', 'competing', p);
    const ordered = consumerConfig('ordered', 'ordered-by-key', p);
    this.consumers = [work, ordered].map((c) => ({ name: c.name, mode: c.mode, maxDeliver: c.maxDeliver }));
    this.setup = [
      { type: 'stream-create', now: 0, config: streamConfig(), partition: 0 },
      { type: 'consumer-create', now: 0, config: work },
      { type: 'consumer-create', now: 0, config: ordered },
    ];
  }

  /** True once the stream and its consumers exist. */
  get ready(): boolean {
    return this.setup.length === 0;
  }

  step(): void {
    this.requests.step();
    if (!this.ready) {
      this.stepSetup();
      return;
    }
    if (this.cluster.now - this.lastTick >= this.p.tickEvery) this.tick();
    for (const c of this.publishers) c.step();
    for (const w of this.workers) w.step();
  }

  drain(): void {
    for (const c of this.publishers) c.publishing = false;
    for (const w of this.workers) w.startDrain();
  }

  /** Every publisher is done: nothing in flight, nothing left to retry. */
  quietPublishers(): boolean {
    return this.publishers.every((c) => c.idle);
  }

  private tick(): void {
    const lead = this.cluster.leader();
    if (lead === null) return;
    this.lastTick = this.cluster.now;
    this.stats.ticks++;
    this.requests.send(
      (now) => ({ type: 'tick', now }),
      (o) => {
        if (o.kind === 'applied' && o.outcome.ok && o.outcome.result.type === 'tick') {
          this.stats.deadLetteredByTick += o.outcome.result.deadLettered;
        }
      },
      lead.id,
    );
  }

  private stepSetup(): void {
    const lead = this.cluster.leader();
    if (this.setupBusy || lead === null) return;
    const cmd = this.setup[0]!;
    this.setupBusy = true;
    this.requests.send(
      (now) => ({ ...cmd, now }),
      (o) => {
        this.setupBusy = false;
        if (o.kind !== 'applied') return; // unknown or refused: send again (an existing one is fine)
        if (o.outcome.ok || o.outcome.error.code === 'ALREADY_EXISTS') this.setup.shift();
        else throw new Error(`queue setup: ${cmd.type} refused: ${o.outcome.error.code} ${o.outcome.error.message}`);
      },
      lead.id,
    );
  }
}
