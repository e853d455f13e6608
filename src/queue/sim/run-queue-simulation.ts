import { Prng } from '../../base/random.js';
import { FaultSchedule } from '../../raft/sim/fault-schedule.js';
import { profileFor, type SimulationProfile } from '../../raft/sim/run-simulation.js';
import { Violation } from '../../raft/sim/safety-checker.js';
import { SimCluster } from '../../raft/sim/sim-cluster.js';
import { CLEAN_NETWORK } from '../../raft/sim/sim-network.js';
import type { PartitionOutcome } from '../types.js';
import type { FinalPartitionView, QueueHistory } from './history.js';
import { type PlantedBug, plantBug } from './planted-bugs.js';
import {
  describeOutcome,
  type PartitionReplicaFactory,
  type QueueApplication,
  queueApplication,
} from './queue-application.js';
import { checkQueueHistory, type QueueViolation } from './queue-checker.js';
import type { WorkerBehaviour } from './queue-clients.js';
import { QueueWorkload, type QueueWorkloadProfile } from './queue-workload.js';

export interface QueueSimulationOptions {
  readonly seed: number;
  /** Steps of faults and traffic after the setup, before the drain. */
  readonly steps: number;
  /** 3 or 5; default: chosen by the seed. */
  readonly nodes?: number;
  /** The partition replica every member runs. */
  readonly replica: PartitionReplicaFactory;
  readonly bug?: PlantedBug;
  /** Recent raft events kept for the failure report. Default 200. */
  readonly traceKeep?: number;
}

export interface QueueSimulationProfile {
  readonly raft: SimulationProfile;
  readonly queue: QueueWorkloadProfile;
}

export interface QueueSimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  /** The checker's verdicts, and a raft invariant or an exception as one more (rule 'raft: …'). */
  readonly violations: readonly QueueViolation[];
  readonly steps: number;
  readonly traceHash: string;
  readonly history: QueueHistory;
  readonly recentEvents: readonly string[];
  readonly profile: QueueSimulationProfile;
  readonly stats: Record<string, number>;
}

/** The queue side of a seed's profile (the raft side is the plain simulator's, without membership changes). */
export function queueProfileFor(seed: number): QueueWorkloadProfile {
  const rng = new Prng(seed ^ 0x9ee5e);
  const behaviours: readonly WorkerBehaviour[] = ['prompt', 'prompt', 'slow', 'never', 'crashy'];
  const workers = (n: number): WorkerBehaviour[] => [
    'prompt',
    ...Array.from({ length: n - 1 }, () => rng.pick(behaviours)),
  ];
  return {
    msPerStep: 10,
    maxSkewMs: rng.pick([0, 20, 200]),
    timeoutSteps: rng.range(20, 80),
    publishers: rng.range(1, 3),
    publishRate: rng.pick([0.05, 0.15, 0.3]),
    keys: rng.range(1, 4),
    keyed: rng.pick([0.5, 0.9]),
    poison: rng.pick([0, 0.03, 0.1]),
    ackWaitMs: rng.pick([150, 300, 600]),
    backoffMs: rng.pick([[], [50], [50, 200]]),
    maxDeliver: rng.range(2, 5),
    maxAckPending: rng.pick([3, 20, 1000]),
    competingWorkers: workers(rng.range(2, 4)),
    orderedWorkers: workers(rng.range(1, 3)),
    fetchRate: rng.pick([0.05, 0.15]),
    workerCrashRate: rng.pick([0.002, 0.01]),
    tickEvery: rng.range(5, 30),
  };
}

/**
 * One simulated queue run: a raft cluster whose members run the partition replica, the setup,
 * `steps` steps of faults (crashes with lost unsynced writes, restarts from snapshots,
 * partitions, lossy and reordering links) and traffic, then the drain: faults stop, publishers
 * finish what they hold, workers fetch and settle everything until every consumer is drained
 * and every member applied the same index. The checker (queue-checker.ts) then reads the
 * history and every member's final state. Replicas are also compared as they go: every member
 * must answer the same result for the same entry.
 */
export function runQueueSimulation(o: QueueSimulationOptions): QueueSimulationResult {
  const base = profileFor(o.seed, o.nodes === undefined ? {} : { nodes: o.nodes });
  const violations: QueueViolation[] = [];
  const raft: SimulationProfile = { ...base, workload: { propose: 0, read: 0, confChange: 0, transfer: 0 } };
  const queue = queueProfileFor(o.seed);
  const makeReplica = o.bug === undefined ? o.replica : () => plantBug(o.bug!, o.replica());
  const cluster = new SimCluster({
    seed: o.seed,
    nodes: raft.nodes,
    settings: raft.settings,
    faults: raft.network,
    slowDisk: raft.slowDisk,
    encodeMessages: raft.encodeMessages,
    reportUnreachable: raft.reportUnreachable,
    traceKeep: o.traceKeep ?? 200,
    application: () =>
      queueApplication(makeReplica(), {
        fresh: makeReplica,
        window: 30,
        report: (message) => {
          // Every member that took the same snapshot finds the same thing: report it once.
          if (violations.length < 5 && !violations.some((v) => v.message === message)) {
            violations.push({ rule: 'replicas diverge', message, evidence: [] });
          }
        },
      }),
  });
  const answers = new Map<number, { by: string; text: string }>();
  cluster.onProposalApplied = (by, index, applied) => {
    const text = describeOutcome(applied.result as PartitionOutcome);
    const first = answers.get(index);
    if (first === undefined) answers.set(index, { by, text });
    else if (first.text !== text && violations.length < 5) {
      violations.push({
        rule: 'replicas diverge',
        message: `entry ${index}: ${first.by} answered ${first.text.slice(0, 300)}, ${by} answered ${text.slice(0, 300)}`,
        evidence: [],
      });
    }
  };
  const rng = new Prng(o.seed).fork();
  const faults = new FaultSchedule(cluster, rng.fork(), raft.faults);
  const workload = new QueueWorkload(cluster, rng.fork(), queue);
  let final: FinalPartitionView[] = [];
  try {
    const setupBound = o.steps + 100 * raft.settings.electionTick;
    while (!workload.ready) {
      if (cluster.now >= setupBound)
        throw new Violation('liveness', `the stream was not set up in ${setupBound} steps`);
      faults.step();
      workload.step();
      cluster.step();
    }
    const end = cluster.now + o.steps;
    while (cluster.now < end) {
      faults.step();
      workload.step();
      cluster.step();
    }
    drain(cluster, faults, workload);
    final = finalViews(
      cluster,
      workload.consumers.map((c) => c.name),
    );
  } catch (err) {
    const v =
      err instanceof Violation
        ? err
        : new Violation('no exception', `the simulation threw ${(err as Error).stack ?? String(err)}`);
    violations.push({ rule: `raft: ${v.rule}`, message: v.message.slice(v.rule.length + 2), evidence: [] });
  }
  const history: QueueHistory = { consumers: workload.consumers, records: workload.history, final };
  if (final.length > 0) violations.push(...checkQueueHistory(history));
  return {
    seed: o.seed,
    ok: violations.length === 0,
    violations,
    steps: cluster.now,
    traceHash: cluster.trace.hash(),
    history,
    recentEvents: cluster.trace.recent(),
    profile: { raft, queue },
    stats: collectStats(cluster, workload, final),
  };
}

/**
 * Ends the faults, lets the clients finish, and steps until every consumer is drained on the
 * leader and every member applied everything. Bounded: what is not done by then is left for the
 * checker to report ('not drained', 'never delivered', ...).
 */
function drain(cluster: SimCluster, faults: FaultSchedule, workload: QueueWorkload): void {
  faults.stop();
  cluster.network.faults = CLEAN_NETWORK;
  cluster.slowDisk = 0;
  cluster.note('n0', 30, () => 'DRAIN: faults stopped, publishers finish, workers settle everything');
  workload.drain();
  const names = workload.consumers.map((c) => c.name);
  const bound = cluster.now + 200 * cluster.options.settings.electionTick + 10_000;
  while (cluster.now < bound) {
    workload.step();
    cluster.step();
    // (The leader's view lists every message: look every 10 steps.)
    if (cluster.now % 10 !== 0 || !workload.quietPublishers() || !leaderDrained(cluster, names)) continue;
    // The clients stop; whatever is still on its way (a timed-out publish, a fetch) lands, and
    // every member catches up. Then the leader must still be drained, or the clients resume.
    const caughtUp = cluster.now + 50 * cluster.options.settings.electionTick;
    while (cluster.now < caughtUp && !allApplied(cluster)) cluster.step();
    for (let i = 0; i < 3 * cluster.options.faults.maxDelay; i++) cluster.step();
    if (allApplied(cluster) && leaderDrained(cluster, names)) return;
  }
}

function leaderDrained(cluster: SimCluster, consumers: readonly string[]): boolean {
  const lead = cluster.leader();
  if (lead === null) return false;
  const app = cluster.member(lead.id).sm.app as QueueApplication;
  return app.replica.view(consumers).consumers.every((c) => c.pending === 0 && c.waiting === 0);
}

/** Every live member applied the leader's whole log. */
function allApplied(cluster: SimCluster): boolean {
  const lead = cluster.leader();
  if (lead === null) return false;
  const last = cluster.member(lead.id).node!.raft.log.lastIndex();
  return lead.status.commit === last && cluster.live().every((m) => m.sm.applied === last);
}

function finalViews(cluster: SimCluster, consumers: readonly string[]): FinalPartitionView[] {
  return cluster.live().map((m) => ({
    member: m.id,
    applied: m.sm.applied,
    ...(m.sm.app as QueueApplication).replica.view(consumers),
  }));
}

function collectStats(cluster: SimCluster, w: QueueWorkload, final: FinalPartitionView[]): Record<string, number> {
  const s: Record<string, number> = {
    crashes: cluster.stats.crashes,
    leaders: cluster.checker.stats.leaders,
    snapshotsInstalled: 0,
    ...w.stats,
    requestsUnknown: w.requests.stats.unknown,
    historyRecords: w.history.length,
    deadLetters: final[0]?.deadLetters.length ?? 0,
    messagesStored: final[0]?.messages.length ?? 0,
  };
  for (const m of cluster.members.values()) s.snapshotsInstalled! += m.stats.snapshotsRestored;
  for (const c of [...w.publishers, ...w.workers]) {
    for (const [k, v] of Object.entries(c.stats)) s[k] = (s[k] ?? 0) + v;
  }
  return s;
}
