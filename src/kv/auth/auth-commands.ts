import { ParleyError } from '../../wire/parley-error.js';
import { byteString, fromByteString, prefixEnd, toBytes } from '../bytes.js';
import type { KvLimits } from '../limits.js';
import type { AuthStamp, KvPermission, KvPermissionType } from './auth-types.js';

/**
 * The replicated commands that change the auth state, and their validation (the same rules as
 * every other command: checked before proposing and again when applied, INVALID_ARGUMENT for any
 * wrong shape). User and role names are non-empty strings; permissions are normalised here to
 * the stored form { type, key, rangeEnd? } (see KvPermission).
 */
export type AuthCommand =
  | { readonly type: 'auth-enable' }
  | { readonly type: 'auth-disable' }
  | { readonly type: 'user-add'; readonly user: string }
  | { readonly type: 'user-delete'; readonly user: string }
  | { readonly type: 'user-grant-role'; readonly user: string; readonly role: string }
  | { readonly type: 'user-revoke-role'; readonly user: string; readonly role: string }
  | { readonly type: 'role-add'; readonly role: string }
  | { readonly type: 'role-delete'; readonly role: string }
  | { readonly type: 'role-grant-permission'; readonly role: string; readonly permission: KvPermission }
  | {
      readonly type: 'role-revoke-permission';
      readonly role: string;
      readonly key: Uint8Array;
      readonly rangeEnd?: Uint8Array;
    };

export const AUTH_COMMAND_TYPES: readonly AuthCommand['type'][] = [
  'auth-enable',
  'auth-disable',
  'user-add',
  'user-delete',
  'user-grant-role',
  'user-revoke-role',
  'role-add',
  'role-delete',
  'role-grant-permission',
  'role-revoke-permission',
];

/** Longest user name (a principal: a SPIFFE id or certificate name may be long) and role name. */
export const MAX_USER_NAME = 1024;
export const MAX_ROLE_NAME = 256;

const PERMISSION_TYPES: readonly KvPermissionType[] = ['read', 'write', 'readwrite'];
const OPEN_END = new Uint8Array([0]);

function bad(msg: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', msg);
}

function name(x: unknown, what: string, max: number): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > max) {
    throw bad(`${what} must be a non-empty string of at most ${max} characters`);
  }
  return x;
}

function keyBytes(x: unknown, what: string, limits: KvLimits): Uint8Array {
  if (!(x instanceof Uint8Array) && typeof x !== 'string') throw bad(`${what} must be bytes or a string`);
  const b = toBytes(x);
  if (b.length > limits.maxKeyBytes) throw bad(`${what} is ${b.length} bytes; the limit is ${limits.maxKeyBytes}`);
  return b;
}

/**
 * A permission's keys from { key, rangeEnd? } or { prefix }: rangeEnd absent or empty = the one
 * key; '\0' = every key from `key` on; otherwise it must sort after `key`. A prefix becomes
 * [prefix, prefixEnd(prefix)); the empty prefix (or one of only 0xff bytes) reaches the end.
 */
export function permissionKeys(
  x: Record<string, unknown>,
  limits: KvLimits,
): { key: Uint8Array; rangeEnd?: Uint8Array } {
  if (x.prefix !== undefined) {
    if (x.key !== undefined || x.rangeEnd !== undefined) throw bad('give either key (and rangeEnd) or prefix');
    const p = keyBytes(x.prefix, 'prefix', limits);
    const end = prefixEnd(byteString(p));
    return { key: p, rangeEnd: end === null ? OPEN_END : fromByteString(end) };
  }
  const key = keyBytes(x.key, 'key', limits);
  const rangeEnd = x.rangeEnd === undefined ? undefined : keyBytes(x.rangeEnd, 'rangeEnd', limits);
  if (rangeEnd === undefined || rangeEnd.length === 0) {
    if (key.length === 0) throw bad('key must not be empty (use rangeEnd "\\0" with an empty key for every key)');
    return { key };
  }
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { key, rangeEnd: OPEN_END };
  if (byteString(rangeEnd) <= byteString(key)) throw bad('rangeEnd must sort after key (or be "\\0": to the end)');
  return { key, rangeEnd };
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

/** An auth command of `x.type`, or undefined when `x.type` is not an auth command. */
export function validateAuthCommand(x: Record<string, unknown>, limits: KvLimits): AuthCommand | undefined {
  const user = () => name(x.user, 'user', MAX_USER_NAME);
  const role = () => name(x.role, 'role', MAX_ROLE_NAME);
  switch (x.type) {
    case 'auth-enable':
    case 'auth-disable':
      return { type: x.type };
    case 'user-add':
    case 'user-delete':
      return { type: x.type, user: user() };
    case 'user-grant-role':
    case 'user-revoke-role':
      return { type: x.type, user: user(), role: role() };
    case 'role-add':
    case 'role-delete':
      return { type: x.type, role: role() };
    case 'role-grant-permission': {
      const p = x.permission;
      if (!isObj(p)) throw bad('permission must be { type, key, rangeEnd? } or { type, prefix }');
      if (!PERMISSION_TYPES.includes(p.type as KvPermissionType)) {
        throw bad(`permission type must be one of ${PERMISSION_TYPES.join(', ')}`);
      }
      return {
        type: x.type,
        role: role(),
        permission: { type: p.type as KvPermissionType, ...permissionKeys(p, limits) },
      };
    }
    case 'role-revoke-permission':
      return { type: x.type, role: role(), ...permissionKeys(x, limits) };
    default:
      return undefined;
  }
}

/** The stamp of a proposed command (absent: the server's own command, never checked). */
export function validateStamp(x: unknown): AuthStamp | undefined {
  if (x === undefined) return undefined;
  if (!isObj(x)) throw bad('auth must be { user, revision }');
  const user = x.user === null ? null : name(x.user, 'auth user', MAX_USER_NAME);
  const revision = x.revision;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
    throw bad('auth revision must be an integer ≥ 0');
  }
  return { user, revision };
}
