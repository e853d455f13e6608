import type { NodeId, Storage } from '../types.js';
import { raftError } from './errors.js';

/** 'safe': ReadIndex confirmed by a heartbeat round. 'lease': trust the leader lease (requires checkQuorum). */
export type ReadOnlyOption = 'safe' | 'lease';

export interface RaftConfig {
  /** This node's id; never empty. */
  readonly id: NodeId;
  /**
   * The durable log. The core reads it; it never writes it: the driver writes what Ready says
   * and then calls advance().
   */
  readonly storage: Storage;
  /**
   * A follower/candidate that hears nothing from a leader for a random number of ticks in
   * [electionTick, 2*electionTick) starts an election. Must be > heartbeatTick (10x is usual).
   */
  readonly electionTick: number;
  /** A leader sends heartbeats every heartbeatTick ticks. */
  readonly heartbeatTick: number;
  /** Uniform random number in [0, 1): the only source of randomness. Inject a seeded PRNG for determinism. */
  readonly random: () => number;
  /** The last index already applied to the state machine (on restart). Default 0. */
  readonly applied?: number;
  /** Max payload bytes of entries per MsgApp (at least one entry is always sent). Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Max MsgApp messages in flight to one follower in replicate state. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Max payload bytes in flight to one follower (0 = no limit). Default 0. */
  readonly maxInflightBytes?: number;
  /** Max payload bytes of uncommitted entries on the leader; proposals beyond it are dropped (0 = no limit). Default 0. */
  readonly maxUncommittedEntriesSize?: number;
  /** Max payload bytes of committed entries returned in one Ready (at least one). Default: no limit. */
  readonly maxCommittedSizePerReady?: number;
  /** Run a pre-vote round before bumping the term, so a partitioned node rejoining does not disrupt the cluster. Default false. */
  readonly preVote?: boolean;
  /**
   * A leader steps down when it has not heard from a quorum within an election timeout, and a
   * follower that heard from a leader within the election timeout refuses votes. Default false.
   */
  readonly checkQuorum?: boolean;
  /** How ReadIndex is served. 'lease' requires checkQuorum. Default 'safe'. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. Default false. */
  readonly disableProposalForwarding?: boolean;
  /** Hooks that break safety on purpose, for testing that the simulator finds bugs. Never set in production. */
  readonly unsafeTestingHooks?: UnsafeTestingHooks;
}

export interface UnsafeTestingHooks {
  /** Commit any entry replicated on a quorum, even from an older term (violates Raft §5.4.2). */
  readonly commitEntriesFromPreviousTerms?: boolean;
  /** Grant votes without checking that the candidate's log is at least as up to date (violates §5.4.1). */
  readonly skipVoteLogCheck?: boolean;
}

/** RaftConfig with every default filled in. */
export interface ResolvedRaftConfig extends Required<Omit<RaftConfig, 'unsafeTestingHooks'>> {
  readonly unsafeTestingHooks: UnsafeTestingHooks;
}

/** Validates a config and fills in defaults; throws ParleyError(INVALID_ARGUMENT, reason 'invalid-config'). */
export function resolveConfig(c: RaftConfig): ResolvedRaftConfig {
  const bad = (msg: string): never => {
    throw raftError('invalid-config', `invalid raft config: ${msg}`);
  };
  if (typeof c.id !== 'string' || c.id === '') bad('id must be a non-empty string');
  if (!Number.isInteger(c.heartbeatTick) || c.heartbeatTick <= 0) bad('heartbeatTick must be a positive integer');
  if (!Number.isInteger(c.electionTick) || c.electionTick <= c.heartbeatTick) {
    bad('electionTick must be an integer greater than heartbeatTick');
  }
  if (typeof c.random !== 'function') bad('random must be a function returning [0, 1)');
  const r: ResolvedRaftConfig = {
    id: c.id,
    storage: c.storage,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    random: c.random,
    applied: c.applied ?? 0,
    maxSizePerMsg: c.maxSizePerMsg ?? 1024 * 1024,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxInflightBytes: c.maxInflightBytes ?? 0,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? 0,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? Number.POSITIVE_INFINITY,
    preVote: c.preVote ?? false,
    checkQuorum: c.checkQuorum ?? false,
    readOnlyOption: c.readOnlyOption ?? 'safe',
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    unsafeTestingHooks: c.unsafeTestingHooks ?? {},
  };
  if (!Number.isInteger(r.applied) || r.applied < 0) bad('applied must be a non-negative integer');
  if (r.maxSizePerMsg < 0) bad('maxSizePerMsg must be >= 0');
  if (!Number.isInteger(r.maxInflightMsgs) || r.maxInflightMsgs <= 0) bad('maxInflightMsgs must be a positive integer');
  if (r.maxInflightBytes < 0) bad('maxInflightBytes must be >= 0');
  if (r.maxInflightBytes > 0 && r.maxInflightBytes < r.maxSizePerMsg) {
    bad('maxInflightBytes must be >= maxSizePerMsg (or 0 for no limit)');
  }
  if (r.maxUncommittedEntriesSize < 0) bad('maxUncommittedEntriesSize must be >= 0');
  if (r.readOnlyOption !== 'safe' && r.readOnlyOption !== 'lease') bad("readOnlyOption must be 'safe' or 'lease'");
  if (r.readOnlyOption === 'lease' && !r.checkQuorum) {
    bad("readOnlyOption 'lease' requires checkQuorum: without it a deposed leader may serve stale reads");
  }
  return r;
}
