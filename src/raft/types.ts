/**
 * Raft data types shared by the pure core, the storage layer (WAL, memory) and the driver.
 * Modeled on etcd's raftpb. Indexes and terms are plain numbers: safe up to 2^53, which a
 * log reaches after ~285 years at a million entries per second.
 */

export type NodeId = string;

export const EntryType = {
  /** An ordinary proposal (or the empty no-op a new leader appends). */
  Normal: 0,
  /** A membership change (joint consensus enter/leave or simple change); `data` encodes a ConfChange. */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque to raft. Empty for the leader's no-op. */
  readonly data: Uint8Array;
}

/** State that must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** Voters, outgoing voters (non-empty only during a joint configuration) and learners. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly learnersNext: readonly NodeId[];
  /** True when the joint configuration is left automatically once committed. */
  readonly autoLeave: boolean;
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The state machine's serialized state at metadata.index. */
  readonly data: Uint8Array;
}

/**
 * Persistent log storage as seen by the core: everything up to `lastIndex()` has been made
 * durable. Implementations: MemoryStorage (tests, simulator) and the WAL-backed storage.
 *
 * Invariant: firstIndex() - 1 is the index of the last snapshot (or 0); term(firstIndex()-1)
 * is answerable (the snapshot's term).
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), capped at maxBytes of data (at least one entry is returned if any). */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}
