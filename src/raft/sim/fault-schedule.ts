import type { Prng } from '../../base/random.js';
import type { NodeId } from '../types.js';
import type { SimCluster } from './sim-cluster.js';

export interface FaultRates {
  /** Probability per step of crashing a member. */
  readonly crash: number;
  /** A crashed member restarts after a uniform number of steps in [1, restartAfter]. */
  readonly restartAfter: number;
  /** Probability per step of a new partition (replacing any current one). */
  readonly partition: number;
  /** A partition heals after a uniform number of steps in [1, healAfter]. */
  readonly healAfter: number;
  /** Probability that a crash may take down a majority (otherwise at most a minority is down at once). */
  readonly majorityCrash: number;
  /** Probability that a crash or an isolation picks the current leader (leader churn finds the subtle bugs). */
  readonly targetLeader: number;
}

/**
 * The fault schedule: crashes (preferring members caught in the middle of a Ready, where a crash
 * loses un-synced writes), restarts after a random downtime, and partitions of random subsets
 * (one member isolated, or the members split into two or three sides) that heal after a while.
 */
export class FaultSchedule {
  private readonly restartAt = new Map<NodeId, number>();
  private healAt: number | null = null;

  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: Prng,
    private readonly rates: FaultRates,
  ) {}

  step(): void {
    const c = this.cluster;
    for (const [id, at] of this.restartAt) {
      if (at <= c.now) {
        this.restartAt.delete(id);
        c.restart(id);
      }
    }
    if (this.healAt !== null && this.healAt <= c.now) {
      this.healAt = null;
      c.heal();
    }
    if (this.rng.chance(this.rates.crash)) this.crashOne();
    if (this.rng.chance(this.rates.partition)) this.partition();
  }

  /** Ends every fault now: heals the network and restarts every crashed member. */
  stop(): void {
    this.cluster.heal();
    this.healAt = null;
    for (const id of [...this.restartAt.keys()].sort()) this.cluster.restart(id);
    this.restartAt.clear();
  }

  private crashOne(): void {
    const c = this.cluster;
    const members = [...c.members.values()].filter((m) => !m.decommissioned);
    const live = members.filter((m) => m.alive);
    const down = members.length - live.length;
    const maxDown = this.rng.chance(this.rates.majorityCrash) ? members.length : Math.floor((members.length - 1) / 2);
    if (live.length === 0 || down >= maxDown) return;
    const busy = live.filter((m) => m.busy);
    const lead = this.rng.chance(this.rates.targetLeader) ? c.leader() : null;
    const victim =
      lead !== null
        ? c.member(lead.id)
        : busy.length > 0 && this.rng.chance(0.5)
          ? this.rng.pick(busy)
          : this.rng.pick(live);
    c.crash(victim.id);
    this.restartAt.set(victim.id, c.now + this.rng.range(1, this.rates.restartAfter));
  }

  private partition(): void {
    const c = this.cluster;
    const ids = [...c.members.keys()];
    const sides = new Map<NodeId, number>();
    const kind = this.rng.next();
    if (kind < 0.5) {
      const lead = this.rng.chance(this.rates.targetLeader) ? c.leader() : null;
      sides.set(lead?.id ?? this.rng.pick(ids), 1);
    } else {
      const n = kind < 0.9 ? 2 : 3;
      for (const id of ids) sides.set(id, this.rng.int(n));
    }
    c.partition(sides);
    this.healAt = c.now + this.rng.range(1, this.rates.healAfter);
  }
}
