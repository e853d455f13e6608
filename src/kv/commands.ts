import { ParleyError } from '../wire/parley-error.js';
import { type AuthCommand, validateAuthCommand, validateStamp } from './auth/auth-commands.js';
import type { AuthStamp } from './auth/auth-types.js';
import { toBytes } from './bytes.js';
import type { KvLimits } from './limits.js';
import type { KeyRangeSpec, RangeOptions, SortOrder, SortTarget } from './types.js';

/**
 * The replicated commands of the key-value state machine, and their validation. Commands arrive
 * from the network (decoded msgpack), so `validateCommand` checks every field and turns any
 * wrong shape into INVALID_ARGUMENT; it never throws anything else. After validation keys and
 * values are Uint8Array (strings are UTF-8 encoded).
 */

export interface PutOp {
  readonly type: 'put';
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly lease?: number;
  readonly prevKv?: boolean;
  /** Keep the current value (the key must exist). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease (the key must exist). */
  readonly ignoreLease?: boolean;
}
export interface RangeOp {
  readonly type: 'range';
  readonly range: KeyRangeSpec<Uint8Array>;
  readonly options?: RangeOptions;
}
export interface DeleteOp {
  readonly type: 'delete';
  readonly range: KeyRangeSpec<Uint8Array>;
  readonly prevKv?: boolean;
}
export type CompareTarget = 'version' | 'createRevision' | 'modRevision' | 'value' | 'lease';
export type CompareOp = '=' | '!=' | '<' | '>';
export interface Compare {
  readonly key: Uint8Array;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  /** A number for version/revisions/lease, bytes for value. */
  readonly value: number | Uint8Array;
}
export type TxnOp = PutOp | RangeOp | DeleteOp;
export interface TxnCommand {
  readonly type: 'txn';
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}
export interface CompactCommand {
  readonly type: 'compact';
  readonly revision: number;
}
export interface LeaseGrantCommand {
  readonly type: 'lease-grant';
  /** 0 or absent: the state machine picks the next free id (deterministically). */
  readonly id?: number;
  readonly ttlMs: number;
  /** The leader's clock when proposing. */
  readonly now: number;
}
export interface LeaseRevokeCommand {
  readonly type: 'lease-revoke';
  readonly id: number;
}
export interface LeaseKeepAliveCommand {
  readonly type: 'lease-keepalive';
  readonly id: number;
  readonly now: number;
}
export interface LeaseExpireCommand {
  readonly type: 'lease-expire';
  readonly ids: readonly number[];
}
export interface LeaseCheckpointCommand {
  readonly type: 'lease-checkpoint';
  readonly checkpoints: readonly { readonly id: number; readonly remainingMs: number }[];
}

export type KvOperation =
  | PutOp
  | RangeOp
  | DeleteOp
  | TxnCommand
  | CompactCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | LeaseKeepAliveCommand
  | LeaseExpireCommand
  | LeaseCheckpointCommand
  | AuthCommand;

/**
 * A command with its optional retry identity ((clientId, seq) is applied at most once) and its
 * auth stamp (who proposed it, checked against which auth revision; absent for the server's own).
 */
export type KvCommand = KvOperation & {
  readonly clientId?: string;
  readonly seq?: number;
  readonly auth?: AuthStamp;
};

function bad(msg: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', msg);
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function bytes(x: unknown, what: string): Uint8Array {
  if (x instanceof Uint8Array) return x;
  if (typeof x === 'string') return toBytes(x);
  throw bad(`${what} must be bytes or a string`);
}

function key(x: unknown, what: string, limits: KvLimits, allowEmpty = false): Uint8Array {
  const k = bytes(x, what);
  if (k.length === 0 && !allowEmpty) throw bad(`${what} must not be empty`);
  if (k.length > limits.maxKeyBytes) throw bad(`${what} is ${k.length} bytes; the limit is ${limits.maxKeyBytes}`);
  return k;
}

function int(x: unknown, what: string, min = 0): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) throw bad(`${what} must be an integer ≥ ${min}`);
  return x;
}

function optInt(x: unknown, what: string): number | undefined {
  return x === undefined ? undefined : int(x, what);
}

function optBool(x: unknown, what: string): boolean | undefined {
  if (x === undefined) return undefined;
  if (typeof x !== 'boolean') throw bad(`${what} must be a boolean`);
  return x;
}

function rangeSpec(x: unknown, limits: KvLimits): KeyRangeSpec<Uint8Array> {
  if (typeof x === 'string' || x instanceof Uint8Array) return { key: key(x, 'key', limits) };
  if (!isObj(x)) throw bad('range must be a key, { key }, { prefix } or { from, to }');
  if ('key' in x) return { key: key(x.key, 'key', limits) };
  if ('prefix' in x) return { prefix: key(x.prefix, 'prefix', limits, true) };
  if ('from' in x) {
    const from = key(x.from, 'from', limits, true);
    return x.to === undefined ? { from } : { from, to: key(x.to, 'to', limits, true) };
  }
  throw bad('range must be a key, { key }, { prefix } or { from, to }');
}

const SORT_TARGETS: readonly SortTarget[] = ['key', 'version', 'createRevision', 'modRevision', 'value'];
const SORT_ORDERS: readonly SortOrder[] = ['ascend', 'descend'];

function rangeOptions(x: unknown): RangeOptions | undefined {
  if (x === undefined) return undefined;
  if (!isObj(x)) throw bad('range options must be an object');
  let sort: RangeOptions['sort'];
  if (x.sort !== undefined) {
    const s = x.sort;
    if (!isObj(s) || !SORT_TARGETS.includes(s.target as SortTarget) || !SORT_ORDERS.includes(s.order as SortOrder)) {
      throw bad(`sort must be { target: ${SORT_TARGETS.join('|')}, order: ascend|descend }`);
    }
    sort = { target: s.target as SortTarget, order: s.order as SortOrder };
  }
  return {
    limit: optInt(x.limit, 'limit'),
    revision: optInt(x.revision, 'revision'),
    keysOnly: optBool(x.keysOnly, 'keysOnly'),
    countOnly: optBool(x.countOnly, 'countOnly'),
    sort,
  };
}

function op(x: unknown, limits: KvLimits): TxnOp {
  if (!isObj(x)) throw bad('an operation must be an object');
  switch (x.type) {
    case 'put': {
      const value = bytes(x.value ?? new Uint8Array(0), 'value');
      if (value.length > limits.maxValueBytes) {
        throw bad(`value is ${value.length} bytes; the limit is ${limits.maxValueBytes}`);
      }
      return {
        type: 'put',
        key: key(x.key, 'key', limits),
        value,
        lease: optInt(x.lease, 'lease'),
        prevKv: optBool(x.prevKv, 'prevKv'),
        ignoreValue: optBool(x.ignoreValue, 'ignoreValue'),
        ignoreLease: optBool(x.ignoreLease, 'ignoreLease'),
      };
    }
    case 'range':
      return { type: 'range', range: rangeSpec(x.range, limits), options: rangeOptions(x.options) };
    case 'delete':
      return { type: 'delete', range: rangeSpec(x.range, limits), prevKv: optBool(x.prevKv, 'prevKv') };
    default:
      throw bad(`unknown operation type ${shownType(x.type)} (put, range, delete)`);
  }
}

const TARGETS: readonly CompareTarget[] = ['version', 'createRevision', 'modRevision', 'value', 'lease'];
const OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];

function compare(x: unknown, limits: KvLimits): Compare {
  if (!isObj(x)) throw bad('a compare must be an object');
  if (!TARGETS.includes(x.target as CompareTarget)) throw bad(`compare target must be one of ${TARGETS.join(', ')}`);
  if (!OPS.includes(x.op as CompareOp)) throw bad(`compare op must be one of ${OPS.join(' ')}`);
  const target = x.target as CompareTarget;
  const value = target === 'value' ? bytes(x.value, 'compare value') : int(x.value, `compare ${target}`);
  return { key: key(x.key, 'compare key', limits), target, op: x.op as CompareOp, value };
}

function list(x: unknown, what: string): unknown[] {
  if (x === undefined) return [];
  if (!Array.isArray(x)) throw bad(`${what} must be an array`);
  return x;
}

/**
 * A peer's `type` field for an error message. Not String(x): an object whose `toString` and
 * `valueOf` are not functions (`{"toString": 1}` decodes to one) makes String throw a TypeError.
 */
function shownType(x: unknown): string {
  return typeof x === 'string' ? JSON.stringify(x.slice(0, 64)) : `of type ${typeof x}`;
}

/** Checks a command received from the network; throws INVALID_ARGUMENT on any wrong shape. */
export function validateCommand(x: unknown, limits: KvLimits): KvCommand {
  if (!isObj(x)) throw bad('a command must be an object');
  let clientId: string | undefined;
  let seq: number | undefined;
  if (x.clientId !== undefined || x.seq !== undefined) {
    if (typeof x.clientId !== 'string' || x.clientId.length === 0 || x.clientId.length > 256) {
      throw bad('clientId must be a non-empty string of at most 256 characters');
    }
    clientId = x.clientId;
    seq = int(x.seq, 'seq', 1);
  }
  const auth = validateStamp(x.auth);
  if (x.type === 'put') {
    // The hot path: one object literal, no spreads (clientId/seq undefined when absent).
    const p = op(x, limits) as PutOp;
    return {
      type: 'put',
      key: p.key,
      value: p.value,
      lease: p.lease,
      prevKv: p.prevKv,
      ignoreValue: p.ignoreValue,
      ignoreLease: p.ignoreLease,
      clientId,
      seq,
      auth,
    };
  }
  const base = { ...(clientId === undefined ? {} : { clientId, seq }), ...(auth === undefined ? {} : { auth }) };
  switch (x.type) {
    case 'range':
    case 'delete':
      return { ...op(x, limits), ...base };
    case 'txn': {
      const cmp = list(x.compare, 'compare');
      const success = list(x.success, 'success');
      const failure = list(x.failure, 'failure');
      const n = cmp.length + success.length + failure.length;
      if (n > limits.maxTxnOps) throw bad(`txn has ${n} operations; the limit is ${limits.maxTxnOps}`);
      return {
        type: 'txn',
        compare: cmp.map((c) => compare(c, limits)),
        success: success.map((o) => op(o, limits)),
        failure: failure.map((o) => op(o, limits)),
        ...base,
      };
    }
    case 'compact':
      return { type: 'compact', revision: int(x.revision, 'revision', 1), ...base };
    case 'lease-grant':
      return {
        type: 'lease-grant',
        id: optInt(x.id, 'id'),
        ttlMs: int(x.ttlMs, 'ttlMs', 1),
        now: int(x.now, 'now'),
        ...base,
      };
    case 'lease-revoke':
      return { type: 'lease-revoke', id: int(x.id, 'id', 1), ...base };
    case 'lease-keepalive':
      return { type: 'lease-keepalive', id: int(x.id, 'id', 1), now: int(x.now, 'now'), ...base };
    case 'lease-expire':
      return { type: 'lease-expire', ids: list(x.ids, 'ids').map((i) => int(i, 'lease id', 1)), ...base };
    case 'lease-checkpoint':
      return {
        type: 'lease-checkpoint',
        checkpoints: list(x.checkpoints, 'checkpoints').map((c) => {
          if (!isObj(c)) throw bad('a checkpoint must be { id, remainingMs }');
          return { id: int(c.id, 'lease id', 1), remainingMs: int(c.remainingMs, 'remainingMs') };
        }),
        ...base,
      };
    default: {
      const a = validateAuthCommand(x, limits);
      if (a === undefined) throw bad(`unknown command type ${shownType(x.type)}`);
      return { ...a, ...base };
    }
  }
}
