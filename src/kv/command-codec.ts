import { Packr } from 'msgpackr';
import { readF64, shortText, writeF64 } from '../base/byte-fields.js';
import { ParleyError } from '../wire/parley-error.js';
import { MAX_USER_NAME } from './auth/auth-commands.js';
import type { AuthStamp } from './auth/auth-types.js';
import { utf8 } from './bytes.js';
import { type KvCommand, type PutOp, validateCommand } from './commands.js';
import type { KvLimits } from './limits.js';

/**
 * How a validated KV command travels in the Raft log. The member that receives a request
 * validates it (`validateCommand`) and proposes `encodeCommand(validated)`; every member
 * decodes the entry with `decodeCommand` when applying it.
 *
 * Two layouts, told apart by the first byte:
 * - **put** (the hot path), binary, close to the state machine's native form, so that applying
 *   it costs no msgpack decode and no re-validation of a generic object:
 *     0x50 'P' | u8 flags | [f64 lease] | [u16 clientId length | clientId UTF-8 | f64 seq]
 *     | [u16 user length (0: none proven) | user UTF-8 | f64 auth revision]
 *     | u32 key length | key | value (the rest)
 *   flags: 1 prevKv, 2 ignoreValue, 4 ignoreLease, 8 lease present, 16 clientId/seq present,
 *   32 auth stamp present.
 * - **every other command**: msgpack of the validated command (a map, so its first byte is
 *   0x80–0x8f or 0xde/0xdf, never 0x50). Entries written before the binary put layout existed
 *   are msgpack maps too and decode unchanged.
 *
 * Invariant: `decodeCommand` is deterministic and total. Any byte string yields either a
 * command within `limits` or INVALID_ARGUMENT, the same on every member, and never another
 * exception. Decoded keys and values are fresh copies, so the store never holds a view into a
 * network or WAL buffer.
 */

const PUT_TAG = 0x50;
const PREV_KV = 1;
const IGNORE_VALUE = 2;
const IGNORE_LEASE = 4;
const HAS_LEASE = 8;
const HAS_RETRY_ID = 16;
const HAS_AUTH = 32;
const KNOWN_FLAGS = PREV_KV | IGNORE_VALUE | IGNORE_LEASE | HAS_LEASE | HAS_RETRY_ID | HAS_AUTH;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a command that `validateCommand` returned (unknown fields are already gone). */
export function encodeCommand(cmd: KvCommand): Uint8Array {
  if (cmd.type === 'put') return encodePut(cmd, cmd.auth);
  return new Uint8Array(packr.pack(plain(cmd)));
}

/**
 * What a member does with a command it received, before proposing it: validate it (unknown
 * fields are dropped), encode it, and check the encoded size. Throws INVALID_ARGUMENT; a
 * refused command never reaches the log.
 */
export function commandToPropose(x: unknown, limits: KvLimits): Uint8Array {
  const cmd = validateCommand(x, limits);
  return encodeToPropose(cmd, limits, cmd.auth);
}

/**
 * Encodes a validated command to propose with the member's own auth stamp (undefined: none,
 * whatever stamp the command came with), refusing one over the size limit (INVALID_ARGUMENT).
 */
export function encodeToPropose(cmd: KvCommand, limits: KvLimits, stamp: AuthStamp | undefined): Uint8Array {
  const bytes = cmd.type === 'put' ? encodePut(cmd, stamp) : new Uint8Array(packr.pack(plain({ ...cmd, auth: stamp })));
  if (bytes.length > limits.maxCommandBytes) throw tooLarge(bytes.length, limits);
  return bytes;
}

function tooLarge(size: number, limits: KvLimits): ParleyError {
  return new ParleyError(
    'INVALID_ARGUMENT',
    `command is ${size} bytes encoded; the limit is ${limits.maxCommandBytes} (write less per request, e.g. split the txn)`,
    { details: { size, maxCommandBytes: limits.maxCommandBytes } },
  );
}

/** Decodes and checks a proposed command; INVALID_ARGUMENT for anything malformed. */
export function decodeCommand(bytes: Uint8Array, limits: KvLimits): KvCommand {
  if (bytes.length > limits.maxCommandBytes) throw tooLarge(bytes.length, limits);
  if (bytes.length > 0 && bytes[0] === PUT_TAG) return decodePut(bytes, limits);
  let raw: unknown;
  try {
    raw = restoreBytes(packr.unpack(bytes));
  } catch (err) {
    throw new ParleyError('INVALID_ARGUMENT', 'command is not valid msgpack', { cause: err });
  }
  return validateCommand(raw, limits);
}

function encodePut(cmd: PutOp & Omit<KvCommand, 'type'>, stamp: AuthStamp | undefined): Uint8Array {
  const clientId = cmd.clientId === undefined ? null : utf8(cmd.clientId);
  const user = stamp === undefined ? null : utf8(stamp.user ?? '');
  let flags = 0;
  if (cmd.prevKv === true) flags |= PREV_KV;
  if (cmd.ignoreValue === true) flags |= IGNORE_VALUE;
  if (cmd.ignoreLease === true) flags |= IGNORE_LEASE;
  if (cmd.lease !== undefined) flags |= HAS_LEASE;
  if (clientId !== null) flags |= HAS_RETRY_ID;
  if (user !== null) flags |= HAS_AUTH;
  const keyAt =
    2 +
    (cmd.lease !== undefined ? 8 : 0) +
    (clientId !== null ? 2 + clientId.length + 8 : 0) +
    (user !== null ? 2 + user.length + 8 : 0) +
    4;
  const out = new Uint8Array(keyAt + cmd.key.length + cmd.value.length);
  out[0] = PUT_TAG;
  out[1] = flags;
  let at = 2;
  if (cmd.lease !== undefined) {
    writeF64(out, at, cmd.lease);
    at += 8;
  }
  if (clientId !== null) {
    out[at] = clientId.length & 0xff;
    out[at + 1] = clientId.length >>> 8;
    out.set(clientId, at + 2);
    at += 2 + clientId.length;
    writeF64(out, at, cmd.seq ?? 0);
    at += 8;
  }
  if (user !== null) {
    out[at] = user.length & 0xff;
    out[at + 1] = user.length >>> 8;
    out.set(user, at + 2);
    at += 2 + user.length;
    writeF64(out, at, stamp!.revision);
    at += 8;
  }
  const n = cmd.key.length;
  out[at] = n & 0xff;
  out[at + 1] = (n >>> 8) & 0xff;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = n >>> 24;
  out.set(cmd.key, keyAt);
  out.set(cmd.value, keyAt + n);
  return out;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function malformed(what: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', `malformed put command: ${what}`);
}

/**
 * A plain Uint8Array copy of `bytes[from, to)`. Entries are often Buffers (network, WAL):
 * `subarray` on a Buffer goes through Buffer's species constructor, a plain view does not.
 */
function copy(bytes: Uint8Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array(to - from);
  out.set(new Uint8Array(bytes.buffer, bytes.byteOffset + from, to - from));
  return out;
}

/** UTF-8 decoding of a short field (throws on bad UTF-8). */
const text = (bytes: Uint8Array, from: number, to: number): string => shortText(bytes, from, to, decoder);

function decodePut(bytes: Uint8Array, limits: KvLimits): KvCommand {
  const need = (at: number, n: number) => {
    if (at + n > bytes.length) throw malformed('truncated');
  };
  need(0, 2);
  const flags = bytes[1]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw malformed(`unknown flags ${flags}`);
  let at = 2;
  let lease: number | undefined;
  if ((flags & HAS_LEASE) !== 0) {
    need(at, 8);
    lease = readF64(bytes, at);
    at += 8;
    if (!Number.isSafeInteger(lease) || lease < 0) throw malformed('lease must be an integer ≥ 0');
  }
  let clientId: string | undefined;
  let seq: number | undefined;
  if ((flags & HAS_RETRY_ID) !== 0) {
    need(at, 2);
    const n = bytes[at]! | (bytes[at + 1]! << 8);
    need(at + 2, n + 8);
    try {
      clientId = text(bytes, at + 2, at + 2 + n);
    } catch {
      throw malformed('clientId is not UTF-8');
    }
    at += 2 + n;
    seq = readF64(bytes, at);
    at += 8;
    if (clientId.length === 0 || clientId.length > 256) throw malformed('clientId must be 1–256 characters');
    if (!Number.isSafeInteger(seq) || seq < 1) throw malformed('seq must be an integer ≥ 1');
  }
  let auth: AuthStamp | undefined;
  if ((flags & HAS_AUTH) !== 0) {
    need(at, 2);
    const n = bytes[at]! | (bytes[at + 1]! << 8);
    need(at + 2, n + 8);
    let user: string;
    try {
      user = text(bytes, at + 2, at + 2 + n);
    } catch {
      throw malformed('auth user is not UTF-8');
    }
    at += 2 + n;
    const revision = readF64(bytes, at);
    at += 8;
    if (user.length > MAX_USER_NAME) throw malformed(`auth user must be at most ${MAX_USER_NAME} characters`);
    if (!Number.isSafeInteger(revision) || revision < 0) throw malformed('auth revision must be an integer ≥ 0');
    auth = { user: user === '' ? null : user, revision };
  }
  need(at, 4);
  const keyLength = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  at += 4;
  need(at, keyLength);
  if (keyLength === 0) throw malformed('key must not be empty');
  if (keyLength > limits.maxKeyBytes) throw malformed(`key is ${keyLength} bytes; the limit is ${limits.maxKeyBytes}`);
  const valueLength = bytes.length - at - keyLength;
  if (valueLength > limits.maxValueBytes) {
    throw malformed(`value is ${valueLength} bytes; the limit is ${limits.maxValueBytes}`);
  }
  const put: Mutable<PutOp & { clientId?: string; seq?: number; auth?: AuthStamp }> = {
    type: 'put',
    key: copy(bytes, at, at + keyLength),
    value: copy(bytes, at + keyLength, bytes.length),
  };
  if (lease !== undefined) put.lease = lease;
  if ((flags & PREV_KV) !== 0) put.prevKv = true;
  if ((flags & IGNORE_VALUE) !== 0) put.ignoreValue = true;
  if ((flags & IGNORE_LEASE) !== 0) put.ignoreLease = true;
  if (clientId !== undefined) {
    put.clientId = clientId;
    put.seq = seq;
  }
  if (auth !== undefined) put.auth = auth;
  return put;
}

/** Deep copy without undefined properties, so encoding is the same before and after a round trip. */
export function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return x;
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return x;
}

/** msgpackr decodes bin as Buffer (a view into its input); turn them into plain Uint8Array copies. */
export function restoreBytes(x: unknown): unknown {
  if (x instanceof Uint8Array) return new Uint8Array(x);
  if (Array.isArray(x)) return x.map(restoreBytes);
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = restoreBytes(v);
    return out;
  }
  return x;
}
