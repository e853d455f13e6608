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
  maxTxnOps: 128,
  quotaBytes: 2 * 1024 * 1024 * 1024,
  dedupPerClient: 16,
  dedupClients: 10_000,
};

/** Bytes accounted per stored revision of a key, on top of key and value lengths. */
export const RECORD_OVERHEAD_BYTES = 64;
