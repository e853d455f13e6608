import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';

/**
 * Room left in a frame for everything around one command when the leader replicates it: the
 * `$raft.step` call, the Raft message and entry fields, the proposal envelope (origin member id,
 * sequence number). Measured well under 2 KiB with short member ids; the margin covers ids up to
 * a few KiB and future fields.
 */
export const REPLICATION_ENVELOPE_BYTES = 64 * 1024;

/** The largest encoded command that still replicates in one frame of `maxFrameSize` bytes. */
export function maxCommandBytesFor(maxFrameSize: number): number {
  return maxFrameSize - REPLICATION_ENVELOPE_BYTES;
}

/**
 * Size limits of the key-value store (etcd's defaults: requests ≤ 1.5 MiB, 128 operations per
 * txn, 2 GiB backend quota). All are part of the replicated configuration: every replica must
 * use the same values, or they would accept different commands.
 */
export interface KvLimits {
  /** Largest key in bytes (INVALID_ARGUMENT above it). */
  readonly maxKeyBytes: number;
  /** Largest value in bytes (INVALID_ARGUMENT above it: the request is wrong, not the store full). */
  readonly maxValueBytes: number;
  /**
   * Largest encoded command (`encodeCommand`), checked before proposing and again on apply. It
   * must leave room for the replication envelope in one frame (`maxCommandBytesFor`), or a
   * command accepted by the leader could never reach a follower.
   */
  readonly maxCommandBytes: number;
  /** Most operations (compares + success + failure ops) in one txn (INVALID_ARGUMENT). */
  readonly maxTxnOps: number;
  /** Store size quota in bytes (RESOURCE_EXHAUSTED for writes that would grow beyond it). */
  readonly quotaBytes: number;
  /** Most (clientId, seq) results remembered per client for retries. */
  readonly dedupPerClient: number;
  /** Most clients remembered; the oldest-registered is forgotten first. */
  readonly dedupClients: number;
}

export const DEFAULT_LIMITS: KvLimits = {
  maxKeyBytes: 1536,
  maxValueBytes: 1024 * 1024,
  maxCommandBytes: maxCommandBytesFor(DEFAULT_MAX_FRAME_SIZE),
  maxTxnOps: 128,
  quotaBytes: 2 * 1024 * 1024 * 1024,
  dedupPerClient: 16,
  dedupClients: 10_000,
};

/** Bytes accounted per stored revision of a key, on top of key and value lengths. */
export const RECORD_OVERHEAD_BYTES = 64;
