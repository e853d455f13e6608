import type { NodeId } from '../types.js';
import { configMembers, EMPTY_CONFIG, type TrackerConfig } from './conf-changer.js';
import { invariant } from './errors.js';
import { Progress } from './progress.js';
import { jointCommittedIndex, jointVoteResult, jointVoterIds, type VoteResult } from './quorum.js';

/**
 * The current membership configuration, the leader's progress for every member, and the votes
 * of the current election.
 *
 * Invariant: the keys of `progress` are exactly configMembers(config).
 */
export class ProgressTracker {
  config: TrackerConfig = EMPTY_CONFIG;
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflightMsgs: number,
    readonly maxInflightBytes: number,
  ) {}

  /**
   * Switches to `config`: creates progress (match 0, next = nextIndex) for new members, drops
   * progress of removed members, and updates learner flags.
   */
  setConfig(config: TrackerConfig, nextIndex: number): void {
    this.config = config;
    const members = configMembers(config);
    const keep = new Set(members);
    for (const id of [...this.progress.keys()]) if (!keep.has(id)) this.progress.delete(id);
    for (const id of members) {
      const isLearner = config.learners.has(id) || config.learnersNext.has(id);
      const pr = this.progress.get(id);
      if (pr === undefined) {
        const p = new Progress(nextIndex, this.maxInflightMsgs, this.maxInflightBytes, isLearner);
        // A new member counts as active, so that check-quorum does not depose the leader at once.
        p.recentActive = true;
        this.progress.set(id, p);
      } else {
        pr.isLearner = isLearner;
      }
    }
    invariant(this.progress.size === keep.size, 'progress map does not match the configuration');
  }

  /** The largest index replicated on a quorum (Infinity when there are no voters). */
  committed(): number {
    return jointCommittedIndex(this.config.voters, (id) => this.progress.get(id)?.match);
  }

  isSingleton(): boolean {
    return this.config.voters.outgoing.size === 0 && this.config.voters.incoming.size === 1;
  }

  voterIds(): NodeId[] {
    return jointVoterIds(this.config.voters);
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters.incoming.has(id) || this.config.voters.outgoing.has(id);
  }

  /** Whether the nodes heard from recently (recentActive) form a quorum. */
  quorumActive(): boolean {
    return jointVoteResult(this.config.voters, (id) => this.progress.get(id)?.recentActive) === 'won';
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records the first vote of `id` in this election; later votes of the same node are ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, v] of this.votes) {
      if (!this.isVoter(id)) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, (id) => this.votes.get(id)) };
  }
}
