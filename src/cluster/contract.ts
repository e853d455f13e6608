import type { KvAuthStatus, KvPermissionType, KvRoleInfo, KvUserInfo } from '../kv/auth/auth-types.js';
import type { Compare } from '../kv/commands.js';
import type { KeyRangeSpec, KvEvent, KvResult, LeaseInfo, RangeOptions } from '../kv/types.js';

/**
 * What the cluster's client and server agree on: the `$kv` and `$cluster` services' actions,
 * params and results. Both sides import it; neither imports the other.
 */

/**
 * Where nodes register themselves (registry/registry-discovery.ts). Under an authorization policy
 * only cluster members write here (server/kv-authorization.ts).
 */
export const REGISTRY_PREFIX = '/parley/registry/nodes/';

/** Keys and values as the client takes them: UTF-8 strings or bytes. */
export type Bytes = string | Uint8Array;

/** A txn comparison as it travels: the key and a compared value may be strings. */
export type CompareArg = Omit<Compare, 'key' | 'value'> & { key: Bytes; value: number | Bytes };

/** One member's view of the cluster, as `$cluster.status` returns it. */
export interface MemberStatus {
  readonly id: string;
  readonly address: string | null;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly revision: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** Leader only: replication progress (match index) per member. */
  readonly progress: Record<string, { match: number; state: string }> | null;
}

/** The retry identity of a write: the state machine applies one `(clientId, seq)` at most once. */
export interface RetryId {
  readonly clientId: string;
  readonly seq: number;
}

/** One member's KV view, as `$kv.status` returns it. */
export interface KvMemberStatus {
  readonly id: string;
  readonly leader: string | null;
  readonly isLeader: boolean;
  readonly revision: number;
  readonly compactRevision: number;
  readonly applied: number;
}

type Result<T extends KvResult['type']> = Extract<KvResult, { type: T }>;
type WireRange = KeyRangeSpec<Bytes>;

/** A txn operation as it travels: ranges are range specs. */
export type TxnOpWire =
  | { type: 'put'; key: Bytes; value: Bytes; lease?: number; prevKv?: boolean }
  | { type: 'range'; range: WireRange; options?: RangeOptions }
  | { type: 'delete'; range: WireRange; prevKv?: boolean };

/** The options of a watch, as `$kv.watch` takes them. */
export interface WatchParams {
  readonly range: WireRange;
  readonly startRevision: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
}

/** The keys of a permission: one key, [key, rangeEnd) (rangeEnd '\0': every key from key on), or a prefix. */
export type KvPermissionRange =
  | { readonly key: Bytes; readonly rangeEnd?: Bytes; readonly prefix?: undefined }
  | { readonly prefix: Bytes; readonly key?: undefined; readonly rangeEnd?: undefined };

/** A permission as `role grant` takes it: read, write or readwrite on a key, a range or a prefix. */
export type KvPermissionSpec = KvPermissionRange & { readonly type: KvPermissionType };

type AuthChange<P> = { params: RetryId & P; result: { authRevision: number } };

/**
 * The `$kv` and `$cluster` services as the client calls them: action → params and result. The
 * server validates every param it receives (it must: any node may call it), and
 * `contract.typecheck.ts` checks that the server's handlers return these results.
 */
export interface KvContract {
  '$kv.range': {
    params: { range: WireRange; options: RangeOptions; serializable: boolean };
    result: Result<'range'>;
  };
  '$kv.put': {
    params: RetryId & {
      key: Bytes;
      value: Bytes;
      lease?: number;
      prevKv?: boolean;
      ignoreValue?: boolean;
      ignoreLease?: boolean;
    };
    result: Result<'put'>;
  };
  '$kv.delete': { params: RetryId & { range: WireRange; prevKv?: boolean }; result: Result<'delete'> };
  '$kv.txn': {
    params: RetryId & { compare: readonly CompareArg[]; success: readonly TxnOpWire[]; failure: readonly TxnOpWire[] };
    result: Result<'txn'>;
  };
  '$kv.compact': { params: RetryId & { revision: number }; result: Result<'compact'> };
  '$kv.leaseGrant': { params: RetryId & { ttlMs: number; id?: number }; result: Result<'lease-grant'> };
  '$kv.leaseRevoke': { params: RetryId & { id: number }; result: Result<'lease-revoke'> };
  '$kv.leaseKeepAlive': { params: { id: number }; result: Result<'lease-keepalive'> };
  '$kv.leaseTimeToLive': { params: { id: number; keys: boolean }; result: LeaseInfo };
  '$kv.leases': { params: Record<string, never>; result: { ids: number[] } };
  '$kv.watch': { params: WatchParams; result: { watchId: string } };
  '$kv.watchPoll': { params: { watchId: string; waitMs: number }; result: { events: KvEvent[]; revision: number } };
  '$kv.watchCancel': { params: { watchId: string }; result: { canceled: boolean } };
  '$kv.status': { params: Record<string, never>; result: KvMemberStatus };
  '$kv.authEnable': AuthChange<Record<string, never>>;
  '$kv.authDisable': AuthChange<Record<string, never>>;
  '$kv.authStatus': { params: Record<string, never>; result: KvAuthStatus };
  '$kv.userAdd': AuthChange<{ user: string }>;
  '$kv.userDelete': AuthChange<{ user: string }>;
  '$kv.userGrantRole': AuthChange<{ user: string; role: string }>;
  '$kv.userRevokeRole': AuthChange<{ user: string; role: string }>;
  '$kv.userGet': { params: { user: string }; result: KvUserInfo };
  '$kv.userList': { params: Record<string, never>; result: { users: string[] } };
  '$kv.roleAdd': AuthChange<{ role: string }>;
  '$kv.roleDelete': AuthChange<{ role: string }>;
  '$kv.roleGrantPermission': AuthChange<{ role: string; permission: KvPermissionSpec }>;
  '$kv.roleRevokePermission': AuthChange<{ role: string } & KvPermissionRange>;
  '$kv.roleGet': { params: { role: string }; result: KvRoleInfo };
  '$kv.roleList': { params: Record<string, never>; result: { roles: string[] } };
  '$cluster.status': { params: Record<string, never>; result: MemberStatus };
  '$cluster.add': { params: { id: string; address: string }; result: { voters: readonly string[] } };
  '$cluster.remove': { params: { id: string }; result: { voters: readonly string[] } };
  '$cluster.transferLeader': { params: { to: string }; result: { requested: string } };
}

export type KvAction = keyof KvContract;
export type KvParams<A extends KvAction> = KvContract[A]['params'];
export type KvReply<A extends KvAction> = KvContract[A]['result'];
