import type { NodeId } from '../types.js';

/**
 * Quorum arithmetic: pure functions over sets of voter ids. Knows nothing of messages or logs.
 *
 * A majority config of n voters needs q = floor(n/2) + 1 of them. A joint config (during a
 * membership change) needs a majority of BOTH halves. By convention an empty majority config
 * wins every vote and commits everything (Infinity), so that a joint config whose outgoing half
 * is empty behaves like its incoming half alone.
 */
export type MajorityConfig = ReadonlySet<NodeId>;

export interface JointConfig {
  readonly incoming: MajorityConfig;
  /** Empty unless a joint configuration is in effect. */
  readonly outgoing: MajorityConfig;
}

export type VoteResult = 'pending' | 'lost' | 'won';

/**
 * The largest index acknowledged by a majority: with the voters' acked indexes sorted in
 * descending order, the q-th one (the "median"). Unknown voters count as 0.
 */
export function majorityCommittedIndex(voters: MajorityConfig, acked: (id: NodeId) => number | undefined): number {
  const n = voters.size;
  if (n === 0) return Number.POSITIVE_INFINITY;
  if (n === 1) {
    for (const id of voters) return acked(id) ?? 0;
  }
  const idx: number[] = [];
  for (const id of voters) idx.push(acked(id) ?? 0);
  idx.sort((a, b) => b - a);
  return idx[n >> 1]!;
}

/** Won once a majority granted, lost once a majority can no longer grant, pending otherwise. */
export function majorityVoteResult(voters: MajorityConfig, votes: (id: NodeId) => boolean | undefined): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = (voters.size >> 1) + 1;
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/** Joint commit index: the minimum of both halves' majority indexes. */
export function jointCommittedIndex(cfg: JointConfig, acked: (id: NodeId) => number | undefined): number {
  return Math.min(majorityCommittedIndex(cfg.incoming, acked), majorityCommittedIndex(cfg.outgoing, acked));
}

/** Joint vote: won only if both halves won; lost if either lost. */
export function jointVoteResult(cfg: JointConfig, votes: (id: NodeId) => boolean | undefined): VoteResult {
  const a = majorityVoteResult(cfg.incoming, votes);
  const b = majorityVoteResult(cfg.outgoing, votes);
  if (a === b) return a;
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}

/** All voters of a joint config (incoming first), without duplicates, in a deterministic order. */
export function jointVoterIds(cfg: JointConfig): NodeId[] {
  const out = [...cfg.incoming];
  for (const id of cfg.outgoing) if (!cfg.incoming.has(id)) out.push(id);
  return out;
}
