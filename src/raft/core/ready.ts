import type { Entry, HardState, NodeId, Snapshot } from '../types.js';
import type { Message } from './messages.js';

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state, useful to the application (who leads) but never persisted. */
export interface SoftState {
  readonly lead: NodeId | null;
  readonly role: Role;
}

/** A linearizable read point: once `index` is applied, reads tagged with `requestContext` may be served. */
export interface ReadState {
  readonly index: number;
  readonly requestContext: Uint8Array;
}

/**
 * Everything the driver must do, in this order (the Ready/Advance contract):
 *  1. Persist, durably (fsync) and atomically enough that a crash keeps a prefix:
 *     `snapshot` (if not null), then `entries` (appended, replacing any conflicting suffix of the
 *     stored log), then `hardState` (if not null). `mustSync` says whether an fsync is needed
 *     (false when only the commit index moved and no entries were added).
 *  2. Send `messages` — only after step 1 is durable: a vote or an append acknowledgement
 *     promises that the sender will remember it.
 *  3. Apply `committedEntries` to the state machine in order; for each entry of type
 *     ConfChange, call `RawNode.applyConfChange(decodeConfChange(entry.data))`.
 *     Serve the reads in `readStates` once their index is applied.
 *  4. Call `RawNode.advance()`.
 * tick/step/propose may be called between ready() and advance() (e.g. while the fsync runs);
 * their effects show up in the next Ready. Only one Ready may be outstanding at a time.
 */
export interface Ready {
  /** Null when unchanged since the previous Ready. */
  readonly softState: SoftState | null;
  /** Null when unchanged since the previous Ready. */
  readonly hardState: HardState | null;
  readonly readStates: readonly ReadState[];
  /** To append to stable storage before sending messages. */
  readonly entries: readonly Entry[];
  /** To install in stable storage (and the state machine) before the entries. */
  readonly snapshot: Snapshot | null;
  /** Committed, to apply to the state machine. */
  readonly committedEntries: readonly Entry[];
  /** To send after persisting. */
  readonly messages: readonly Message[];
  /** True when entries, term or vote changed: the write must be fsynced before sending. */
  readonly mustSync: boolean;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly inflight: number;
}

/** A read-only view of a node, for debugging, metrics and tests. */
export interface Status {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
  /**
   * Term of the entry at `commit` (0 if unknown). A leader whose commitTerm is below its term has
   * not committed an entry of its own term yet: its log may still hold uncommitted entries of
   * earlier terms, which commit with its first one.
   */
  readonly commitTerm: number;
  readonly applied: number;
  readonly lead: NodeId | null;
  readonly role: Role;
  readonly leadTransferee: NodeId | null;
  /** Only on the leader: per-follower replication progress. */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>> | null;
  readonly config: {
    readonly voters: readonly NodeId[];
    readonly votersOutgoing: readonly NodeId[];
    readonly learners: readonly NodeId[];
    readonly learnersNext: readonly NodeId[];
    readonly autoLeave: boolean;
  };
}
