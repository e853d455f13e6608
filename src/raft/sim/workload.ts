import type { Prng } from '../../base/random.js';
import type { ConfChange } from '../core/conf-change.js';
import type { NodeId } from '../types.js';
import { nodeId, type SimCluster } from './sim-cluster.js';

/** How often (probability per step) the clients do each thing. */
export interface WorkloadRates {
  readonly propose: number;
  readonly read: number;
  readonly confChange: number;
  readonly transfer: number;
}

/** Voters never drop below this (removals wait for an addition first). */
const MIN_VOTERS = 3;
const MAX_VOTERS = 7;

/**
 * The clients of the simulated cluster: proposals and ReadIndex requests at random live members
 * (followers forward them), membership changes at the leader (add a learner, promote it, add or
 * remove a voter, joint changes that swap a voter), at most one in flight, and leader transfers.
 * New members get fresh ids (n<k>, never reused) and start with an empty disk.
 */
export class Workload {
  private payloadSeq = 0;
  private nextId: number;
  private readonly maxIds: number;
  /** Step at which the pending membership change was proposed, or null. */
  private confPendingSince: number | null = null;

  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: Prng,
    private readonly rates: WorkloadRates,
  ) {
    this.nextId = cluster.options.nodes + 1;
    this.maxIds = cluster.options.nodes + 6;
    cluster.onConfChangeCommitted = () => {
      this.confPendingSince = null;
    };
  }

  step(): void {
    const c = this.cluster;
    const r = this.rates;
    const live = c.live();
    if (live.length === 0) return;
    if (this.rng.chance(r.propose)) c.propose(this.rng.pick(live).id, this.payload());
    if (this.rng.chance(r.read)) c.readIndex(this.rng.pick(live).id);
    if (this.rng.chance(r.confChange)) this.changeMembership();
    if (this.rng.chance(r.transfer)) {
      const lead = c.leader();
      const voters = lead?.status.config.voters.filter((id) => id !== lead.id) ?? [];
      if (lead !== null && voters.length > 0) c.transferLeadership(lead.id, this.rng.pick(voters));
    }
  }

  /** A payload no other proposal has: "<seed>:<n>". */
  payload(): Uint8Array {
    return new TextEncoder().encode(`${this.cluster.options.seed}:${++this.payloadSeq}`);
  }

  private changeMembership(): void {
    const c = this.cluster;
    const timeout = 40 * c.options.settings.electionTick;
    if (this.confPendingSince !== null && c.now - this.confPendingSince < timeout) return;
    const lead = c.leader();
    if (lead === null) return;
    const cfg = lead.status.config;
    if (cfg.votersOutgoing.length > 0) return; // a joint configuration is being left automatically
    const cc = this.pickChange(cfg.voters, cfg.learners);
    if (cc === null) return;
    for (const ch of cc.changes) if (ch.type !== 'RemoveNode') c.addMember(ch.nodeId);
    if (c.proposeConfChange(lead.id, cc)) this.confPendingSince = c.now;
  }

  private pickChange(voters: readonly NodeId[], learners: readonly NodeId[]): ConfChange | null {
    const canAdd = this.nextId <= this.maxIds && voters.length < MAX_VOTERS;
    const canRemove = voters.length > MIN_VOTERS;
    const options: (() => ConfChange)[] = [];
    if (canAdd) {
      options.push(() => ({ transition: 'Auto', changes: [{ type: 'AddLearnerNode', nodeId: this.freshId() }] }));
      options.push(() => ({ transition: 'Auto', changes: [{ type: 'AddNode', nodeId: this.freshId() }] }));
      options.push(() => ({
        transition: 'JointImplicit',
        changes: [
          { type: 'AddNode', nodeId: this.freshId() },
          { type: 'RemoveNode', nodeId: this.rng.pick(voters) },
        ],
      }));
    }
    if (learners.length > 0) {
      options.push(() => ({ transition: 'Auto', changes: [{ type: 'AddNode', nodeId: this.rng.pick(learners) }] }));
      options.push(() => ({ transition: 'Auto', changes: [{ type: 'RemoveNode', nodeId: this.rng.pick(learners) }] }));
    }
    if (canRemove) {
      options.push(() => ({ transition: 'Auto', changes: [{ type: 'RemoveNode', nodeId: this.rng.pick(voters) }] }));
      options.push(() => ({
        transition: 'JointImplicit',
        changes: [{ type: 'AddLearnerNode', nodeId: this.rng.pick(voters) }],
      }));
    }
    if (options.length === 0) return null;
    return this.rng.pick(options)();
  }

  private freshId(): NodeId {
    return nodeId(this.nextId++);
  }
}
