import type { Timer } from '../../base/clock.js';
import type { Random } from '../../base/random.js';
import type { KeyRangeSpec, KvResult, RangeOptions } from '../../kv/types.js';
import type { Logger, LogLevel } from '../../transport/logger.js';
import type { AuthOptions } from '../../transport/security/auth-options.js';
import type { TlsOptions } from '../../transport/tls-options.js';
import type { Bytes, CompareArg, KvReply } from '../contract.js';

/** A key range as the client takes it: one key, or a range spec. */
export type RangeArg = Bytes | KeyRangeSpec<Bytes>;

export interface KvClientOptions {
  /** The whole budget of one operation, retries included (default 10000 ms). */
  readonly timeoutMs?: number;
  /**
   * An operation fails with UNAVAILABLE (reason 'no-leader', nothing applied) once every member
   * asked has known no leader for this long (default 3000 ms, at most `timeoutMs`).
   */
  readonly noLeaderMs?: number;
  /** Time and timers of retries, budgets and keep-alives (default: the real ones, wallTimer). */
  readonly timer?: Timer;
  /** Jitter of retries and picks among members (default Math.random). */
  readonly random?: Random;
}

export interface ConnectKvOptions extends KvClientOptions {
  /** Addresses (host:port) of cluster members; one reachable member is enough. */
  readonly servers: readonly string[];
  /**
   * Client node id (default kv-<pid>-<random>). With `auth.key` it must be the name the servers'
   * trust list gives this key; with `auth.tls`, the name in this client's certificate.
   */
  readonly id?: string;
  readonly logger?: Logger | LogLevel;
  /** The credentials this client presents to the servers and how it verifies them (NodeOptions.auth). */
  readonly auth?: AuthOptions;
  /** TLS to the servers: `ca` to verify them, `cert` + `key` when they ask for client certificates. */
  readonly tls?: TlsOptions;
}

export interface TxnRequest {
  readonly compare?: readonly CompareArg[];
  readonly success?: readonly TxnOpArg[];
  readonly failure?: readonly TxnOpArg[];
}
export type TxnOpArg =
  | { type: 'put'; key: Bytes; value: Bytes; lease?: number; prevKv?: boolean }
  | { type: 'range'; range: RangeArg; options?: RangeOptions }
  | { type: 'delete'; range: RangeArg; prevKv?: boolean };
export type TxnResult = Extract<KvResult, { type: 'txn' }>;

/** Options of `range`: etcd's range options, and where the read may be served. */
export interface ReadOptions extends RangeOptions {
  /** Serve from the member's local state without ReadIndex: faster, possibly stale (default false). */
  readonly serializable?: boolean;
}

/** Options of `get` and `getString`. */
export interface GetOptions {
  readonly revision?: number;
  readonly serializable?: boolean;
}

/** Options of `put`. */
export interface PutOptions {
  /** Attach the key to this lease (0 or absent: none). */
  readonly lease?: number;
  /** Return the previous key-value. */
  readonly prevKv?: boolean;
  /** Keep the current value (the key must exist). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease (the key must exist). */
  readonly ignoreLease?: boolean;
}

/** Options of `delete`. */
export interface DeleteOptions {
  /** Return the deleted key-values. */
  readonly prevKv?: boolean;
}

/** Options of `lock`. */
export interface LockOptions {
  /** TTL of the lease the lock is held with (default 10000 ms). */
  readonly ttlMs?: number;
  /** Stops waiting for the lock. */
  readonly signal?: AbortSignal;
}

/** Options of `election`. */
export interface ElectionOptions {
  /** TTL of the lease a candidate campaigns with (default 10000 ms). */
  readonly ttlMs?: number;
}

export type PutResult = KvReply<'$kv.put'>;
export type DeleteResult = KvReply<'$kv.delete'>;
export type CompactResult = KvReply<'$kv.compact'>;
export type LeaseGrantResult = { readonly id: number; readonly ttlMs: number };
export type MembershipResult = KvReply<'$cluster.add'>;
