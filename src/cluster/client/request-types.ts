import type { Compare } from '../../kv/commands.js';
import type { KeyRangeSpec, KvResult, RangeOptions } from '../../kv/types.js';
import type { Logger, LogLevel } from '../../transport/logger.js';

/** Keys and values as the client takes them: UTF-8 strings or bytes. */
export type Bytes = string | Uint8Array;

/** A key range as the client takes it: one key, or a range spec. */
export type RangeArg = Bytes | KeyRangeSpec<Bytes>;

export interface KvClientOptions {
  /** The whole budget of one operation, retries included (default 10000 ms). */
  readonly timeoutMs?: number;
}

export interface ConnectKvOptions extends KvClientOptions {
  /** Addresses (host:port) of cluster members; one reachable member is enough. */
  readonly servers: readonly string[];
  /** Client node id (default kv-<pid>-<random>). */
  readonly id?: string;
  readonly logger?: Logger | LogLevel;
}

export interface TxnRequest {
  readonly compare?: readonly CompareArg[];
  readonly success?: readonly TxnOpArg[];
  readonly failure?: readonly TxnOpArg[];
}
export type CompareArg = Omit<Compare, 'key' | 'value'> & { key: Bytes; value: number | Bytes };
export type TxnOpArg =
  | { type: 'put'; key: Bytes; value: Bytes; lease?: number; prevKv?: boolean }
  | { type: 'range'; range: RangeArg; options?: RangeOptions }
  | { type: 'delete'; range: RangeArg; prevKv?: boolean };
export type TxnResult = Extract<KvResult, { type: 'txn' }>;
