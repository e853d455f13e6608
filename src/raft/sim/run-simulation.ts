import { Prng } from '../../base/random.js';
import type { UnsafeTestingHooks } from '../core/config.js';
import { type FaultRates, FaultSchedule } from './fault-schedule.js';
import { Violation } from './safety-checker.js';
import { SimCluster } from './sim-cluster.js';
import type { MemberSettings } from './sim-member.js';
import { CLEAN_NETWORK, type NetworkFaults } from './sim-network.js';
import { Workload, type WorkloadRates } from './workload.js';

export interface SimulationOptions {
  readonly seed: number;
  /** Steps of faults and workload before the liveness phase. */
  readonly steps: number;
  /** 3 or 5; default: chosen by the seed. */
  readonly nodes?: number;
  readonly unsafeTestingHooks?: UnsafeTestingHooks;
  /** Recent events kept for the failure report. Default 200. */
  readonly traceKeep?: number;
  readonly echo?: ((line: string) => void) | null;
}

/** Everything the seed decides about a run before it starts (printed with --verbose). */
export interface SimulationProfile {
  readonly nodes: number;
  readonly settings: MemberSettings;
  readonly network: NetworkFaults;
  readonly slowDisk: number;
  readonly encodeMessages: number;
  readonly reportUnreachable: number;
  readonly faults: FaultRates;
  readonly workload: WorkloadRates;
}

export interface SimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation: Violation | null;
  /** Steps actually run (including the liveness phase). */
  readonly steps: number;
  readonly traceHash: string;
  readonly recentEvents: readonly string[];
  readonly profile: SimulationProfile;
  readonly stats: Record<string, number>;
}

/** Draws the run's parameters from the seed: every seed is a different mix of faults and settings. */
export function profileFor(
  seed: number,
  options: Pick<SimulationOptions, 'nodes' | 'unsafeTestingHooks'>,
): SimulationProfile {
  const rng = new Prng(seed ^ 0x5eed);
  const electionTick = rng.range(8, 14);
  return {
    nodes: options.nodes ?? (rng.chance(0.5) ? 3 : 5),
    settings: {
      electionTick,
      heartbeatTick: rng.range(1, 3),
      preVote: rng.chance(0.5),
      checkQuorum: rng.chance(0.5),
      maxSizePerMsg: rng.pick([0, 64, 1024 * 1024]),
      maxInflightMsgs: rng.pick([2, 4, 256]),
      snapshotEvery: rng.range(8, 60),
      keepAfterSnapshot: rng.range(0, 10),
      ...(options.unsafeTestingHooks ? { unsafeTestingHooks: options.unsafeTestingHooks } : {}),
    },
    network: {
      drop: rng.pick([0, 0.01, 0.05, 0.1]),
      duplicate: rng.pick([0, 0.01, 0.05]),
      delay: rng.pick([0, 0.02, 0.1]),
      baseDelay: rng.range(1, 3),
      maxDelay: rng.range(5, 3 * electionTick),
    },
    slowDisk: rng.pick([0, 0.05, 0.2]),
    encodeMessages: rng.pick([0, 0.05, 0.25]),
    reportUnreachable: rng.pick([0, 0.5]),
    faults: {
      crash: rng.pick([0.002, 0.005, 0.01]),
      restartAfter: rng.range(5, 10 * electionTick),
      partition: rng.pick([0.002, 0.005, 0.01]),
      healAfter: rng.range(10, 20 * electionTick),
      majorityCrash: rng.pick([0, 0.1, 0.3]),
      targetLeader: rng.pick([0, 0.3, 0.8]),
    },
    workload: {
      propose: rng.pick([0.1, 0.3, 0.6]),
      read: rng.pick([0.02, 0.1]),
      confChange: rng.pick([0, 0.005, 0.02]),
      transfer: rng.pick([0, 0.002, 0.01]),
    },
  };
}

/**
 * One simulated run: `steps` steps of faults and workload with the invariants checked after
 * every step, then the liveness phase. Liveness: with every fault ended (network healed and
 * reliable, every crashed member restarted), a leader must be elected within 20 election
 * timeouts, and then a fresh proposal must be applied by every member of the leader's
 * configuration within another 20 (plus 4 steps per entry of the backlog not yet committed).
 */
export function runSimulation(o: SimulationOptions): SimulationResult {
  const profile = profileFor(o.seed, o);
  const cluster = new SimCluster({
    seed: o.seed,
    nodes: profile.nodes,
    settings: profile.settings,
    faults: profile.network,
    slowDisk: profile.slowDisk,
    encodeMessages: profile.encodeMessages,
    reportUnreachable: profile.reportUnreachable,
    traceKeep: o.traceKeep ?? 200,
    echo: o.echo ?? null,
  });
  const rng = new Prng(o.seed).fork();
  const faults = new FaultSchedule(cluster, rng.fork(), profile.faults);
  const workload = new Workload(cluster, rng.fork(), profile.workload);
  let violation: Violation | null = null;
  try {
    for (let i = 0; i < o.steps; i++) {
      faults.step();
      workload.step();
      cluster.step();
    }
    checkLiveness(cluster, faults, workload);
  } catch (err) {
    violation =
      err instanceof Violation
        ? err
        : new Violation('no exception', `the simulation threw ${(err as Error).stack ?? String(err)}`);
  }
  const stats: Record<string, number> = {
    ...cluster.stats,
    ...cluster.checker.stats,
    messages: cluster.network.stats.sent,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    lostWrites: 0,
  };
  for (const m of cluster.members.values()) {
    stats.snapshotsTaken! += m.stats.snapshotsTaken;
    stats.snapshotsInstalled! += m.stats.snapshotsRestored;
    stats.lostWrites! += m.stats.lostWrites;
  }
  return {
    seed: o.seed,
    ok: violation === null,
    violation,
    steps: cluster.now,
    traceHash: cluster.trace.hash(),
    recentEvents: cluster.trace.recent(),
    profile,
    stats,
  };
}

function checkLiveness(cluster: SimCluster, faults: FaultSchedule, workload: Workload): void {
  faults.stop();
  cluster.network.faults = CLEAN_NETWORK;
  cluster.slowDisk = 0;
  cluster.note('n0', 12, () => 'LIVENESS PHASE: faults stopped, all members up');
  const bound = 20 * cluster.options.settings.electionTick;
  const start = cluster.now;
  while (cluster.leader() === null) {
    if (cluster.now - start >= bound) {
      throw new Violation('liveness', `no leader within ${bound} steps of a healed, fully restarted cluster`);
    }
    cluster.step();
  }
  const elected = cluster.now;
  // The backlog a slow link (one entry per message, few in flight) must drain first gets time too.
  const lead0 = cluster.leader()!;
  const backlog = cluster.member(lead0.id).node!.raft.log.lastIndex() - lead0.status.commit;
  const commitBound = bound + 4 * backlog;
  let lastPropose = Number.NEGATIVE_INFINITY;
  for (;;) {
    const lead = cluster.leader();
    const index = cluster.checker.watchedIndex;
    if (index === null && lead !== null && cluster.now - lastPropose >= 5 * cluster.options.settings.electionTick) {
      const data = workload.payload();
      cluster.checker.watch(data);
      if (cluster.propose(lead.id, data)) {
        lastPropose = cluster.now;
        cluster.note(lead.id, 13, () => `liveness proposal at ${lead.id}`);
      }
    }
    if (index !== null && lead !== null) {
      const cfg = lead.status.config;
      const members = new Set([...cfg.voters, ...cfg.votersOutgoing, ...cfg.learners, ...cfg.learnersNext]);
      if ([...members].every((id) => cluster.member(id).sm.applied >= index)) return;
    }
    if (cluster.now - elected >= commitBound) {
      const detail =
        index === null
          ? 'it never committed'
          : `committed at index ${index}; applied: ${[...cluster.members.values()].map((m) => `${m.id}=${m.sm.applied}${m.alive ? '' : '(down)'}`).join(' ')}`;
      throw new Violation(
        'liveness',
        `a fresh proposal was not applied by every member within ${commitBound} steps of the election: ${detail}; ${describeLeader(cluster)}`,
      );
    }
    cluster.step();
  }
}

function describeLeader(cluster: SimCluster): string {
  const lead = cluster.leader();
  if (lead === null) return 'no leader now';
  const st = lead.status;
  const progress = Object.entries(st.progress ?? {})
    .map(
      ([id, p]) =>
        `${id}:${p.state} match ${p.match} next ${p.next}${p.isLearner ? ' learner' : ''}${p.recentActive ? '' : ' inactive'}`,
    )
    .join(', ');
  return `leader ${lead.id} term ${st.term} commit ${st.commit} applied ${st.applied} config ${JSON.stringify(st.config)} transferee ${st.leadTransferee}; progress ${progress}`;
}
