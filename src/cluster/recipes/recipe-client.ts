import type { KeyValue, LeaseInfo, RangeOptions, RangeResult } from '../../kv/types.js';
import type { KvWatch, WatchOptions } from '../client/kv-watch.js';
import type { LeaseKeeper } from '../client/lease-keeper.js';
import type { RangeArg, TxnRequest, TxnResult } from '../client/request-types.js';

/**
 * The part of the KV client the recipes use. `KvClient` satisfies it; the recipes depend on this
 * shape, not on the client class, so the client can offer `lock()` and `election()` without an
 * import cycle.
 */
export interface RecipeClient {
  readonly lease: {
    grant(ttlMs: number, opts?: { id?: number }): Promise<{ id: number; ttlMs: number }>;
    keepAlive(id: number): LeaseKeeper;
    revoke(id: number): Promise<void>;
    timeToLive(id: number, opts?: { keys?: boolean }): Promise<LeaseInfo>;
  };
  range(range: RangeArg, opts?: RangeOptions): Promise<RangeResult>;
  txn(t: TxnRequest): Promise<TxnResult>;
  watch(range: RangeArg, opts?: WatchOptions): KvWatch;
  get(key: RangeArg): Promise<KeyValue | undefined>;
}
