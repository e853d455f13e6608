import type { ParleyError } from '../wire/parley-error.js';
import type { KeyValue, RangeResult } from './types.js';

/** What applying a command returns (the result a proposer receives, and what retries replay). */
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
  | { type: 'lease-checkpoint'; revision: number };

/** The outcome of applying one command. Deterministic errors are values, not exceptions. */
export type ApplyOutcome = { ok: true; result: KvResult } | { ok: false; error: ParleyError };
