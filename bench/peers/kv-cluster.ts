/**
 * The contract of a replicated key-value store compared by the KV benchmark (bench/kv.ts): a 3-member cluster on
 * loopback, started and stopped by the benchmark, driven by one client object in the benchmark process. The
 * client is shared by every concurrent worker, as an application shares one etcd3 or Parley client.
 */
export interface KvCluster {
  /** Short name for tables. */
  readonly name: string;
  /** One line for the report: version, members, durability, client. */
  readonly description: string;
  /** Process ids of the members (for CPU accounting). */
  readonly pids: readonly number[];
  /** Stores `value` under `key`; resolves once the write is committed. */
  put(key: string, value: Uint8Array): Promise<void>;
  /** A linearizable read of `key`; resolves with its value, or null when absent. */
  get(key: string): Promise<Uint8Array | null>;
  stop(): Promise<void>;
}
