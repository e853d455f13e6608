import type { ParleyError } from '../wire/parley-error.js';

/** Public data types of the key-value store (etcd's mvccpb.KeyValue and Event). */

export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Revision of the put that created the key (since its last delete); 0 when absent. */
  readonly createRevision: number;
  /** Revision of the last modification. */
  readonly modRevision: number;
  /** Number of puts since creation (1 after the first put); a delete resets it to 0. */
  readonly version: number;
  /** Attached lease id, 0 for none. */
  readonly lease: number;
}

export type EventType = 'PUT' | 'DELETE';

export interface KvEvent {
  readonly type: EventType;
  /** For DELETE: the key with modRevision = the delete's revision, empty value, version 0. */
  readonly kv: KeyValue;
  /** The key's previous value, when asked for and the key existed. */
  readonly prevKv?: KeyValue;
}

/** A key range: one key, every key with a prefix, or [from, to) (to omitted: to the end). */
export type KeyRangeSpec<B> = { key: B } | { prefix: B } | { from: B; to?: B };

export type SortTarget = 'key' | 'version' | 'createRevision' | 'modRevision' | 'value';
export type SortOrder = 'ascend' | 'descend';

export interface RangeOptions {
  /** Most kvs returned; 0 or absent = no limit. `more` tells whether some were left out. */
  readonly limit?: number;
  /** Read the state as of this revision; 0 or absent = the current revision. */
  readonly revision?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly sort?: { readonly target: SortTarget; readonly order: SortOrder };
}

export interface RangeResult {
  readonly kvs: KeyValue[];
  /** Number of keys in the range (before the limit). */
  readonly count: number;
  readonly more: boolean;
  /** The store revision when the read was served. */
  readonly revision: number;
}

export type KvResult =
  | { type: 'put'; revision: number; prevKv?: KeyValue }
  | ({ type: 'range' } & RangeResult)
  | { type: 'delete'; deleted: number; revision: number; prevKvs?: KeyValue[] }
  | { type: 'txn'; succeeded: boolean; responses: KvResult[]; revision: number }
  | { type: 'compact'; revision: number }
  | { type: 'lease-grant'; id: number; ttlMs: number; revision: number }
  | { type: 'lease-revoke'; revision: number }
  | { type: 'lease-keepalive'; id: number; ttlMs: number; revision: number }
  | { type: 'lease-expire'; expired: number[]; revision: number }
  | { type: 'lease-checkpoint'; revision: number }
  /** An auth change: the auth revision after it (unchanged when the command changed nothing). */
  | { type: 'auth'; authRevision: number };

/** The outcome of applying one command. Deterministic errors are values, not exceptions. */
export type ApplyOutcome = { ok: true; result: KvResult } | { ok: false; error: ParleyError };

export interface LeaseInfo {
  readonly id: number;
  readonly ttlMs: number;
  /** Remaining time by this member's deadline (meaningful on the leader). */
  readonly remainingMs: number;
  readonly keys?: Uint8Array[];
}
