import { ParleyError } from '../../wire/parley-error.js';
import { bytesEqual } from '../bytes.js';
import type { KeyRange } from '../key-range.js';
import type { AuthCommand } from './auth-commands.js';
import { denied, invalidAuthChange, notAUser, notRoot, unauthenticated } from './auth-errors.js';
import { type KvCaller, type KvPermission, type KvRoleInfo, type KvUserInfo, ROOT } from './auth-types.js';
import {
  covers,
  describeRange,
  grants,
  type Interval,
  permissionInterval,
  sortIntervals,
} from './permission-ranges.js';

/** A user's permissions as sorted intervals, computed once per auth revision. */
interface UserView {
  readonly root: boolean;
  readonly read: readonly Interval[];
  readonly write: readonly Interval[];
}

/** The snapshot form: [enabled 0|1, revision, [[user, [role...]]...], [[role, [[type, key, rangeEnd|null]...]]...]]. */
export type AuthDump = [
  number,
  number,
  [string, string[]][],
  [string, [KvPermission['type'], Uint8Array, Uint8Array | null][]][],
];

/**
 * The replicated auth state of the KV store (etcd's auth store): the enabled flag, users (a
 * user's name is a principal's name: identity comes from the connection's handshake, never a
 * password), roles with permissions on key ranges, and the built-in `root` role, which may do
 * everything. Changed only by applied commands, so every member holds the same state.
 *
 * Invariants: `revision` grows by one with every change (users, roles, permissions, the flag)
 * and never otherwise, so a command stamped with the revision it was checked against knows
 * whether anything changed since; a change throws before it modifies anything; while enabled,
 * the user `root` exists and has the role `root` (enabling requires it, and deleting that user
 * or revoking that role is refused until auth is disabled again).
 */
export class AuthStore {
  enabled = false;
  revision = 0;
  private readonly users = new Map<string, Set<string>>();
  private readonly roles = new Map<string, KvPermission[]>();
  private readonly views = new Map<string, UserView>();

  // ---- checks ----

  /** Throws UNAUTHENTICATED / PERMISSION_DENIED unless `caller` may `need` every key of `range`. */
  checkRange(caller: KvCaller, range: KeyRange, need: 'read' | 'write'): void {
    const v = this.viewOf(caller);
    if (v === null || v.root) return;
    if (!covers(need === 'read' ? v.read : v.write, range)) {
      throw denied((caller as { name: string }).name, need, describeRange(range));
    }
  }

  /** Whether `caller` may `need` `range` (no error built). */
  allows(caller: KvCaller, range: KeyRange, need: 'read' | 'write'): boolean {
    try {
      this.checkRange(caller, range, need);
      return true;
    } catch {
      return false;
    }
  }

  /** Throws unless `caller` is a user (any user) while auth is enabled: lease grants and keep-alives. */
  checkUser(caller: KvCaller): void {
    this.viewOf(caller);
  }

  /** Throws unless `caller` may run an admin action: anyone while auth is disabled (as etcd), else root. */
  checkAdmin(caller: KvCaller, action: string): void {
    const v = this.viewOf(caller);
    if (v !== null && !v.root) throw notRoot((caller as { name: string }).name, action);
  }

  /** null: nothing to check (the server itself, or auth disabled). */
  private viewOf(caller: KvCaller): UserView | null {
    if (caller.kind === 'server' || !this.enabled) return null;
    if (!caller.authenticated) throw unauthenticated();
    const cached = this.views.get(caller.name);
    if (cached !== undefined) return cached;
    const roles = this.users.get(caller.name);
    if (roles === undefined) throw notAUser(caller.name);
    const read: Interval[] = [];
    const write: Interval[] = [];
    for (const r of roles) {
      for (const p of this.roles.get(r) ?? []) {
        const iv = permissionInterval(p);
        if (grants(p.type, 'read')) read.push(iv);
        if (grants(p.type, 'write')) write.push(iv);
      }
    }
    const view = { root: roles.has(ROOT), read: sortIntervals(read), write: sortIntervals(write) };
    this.views.set(caller.name, view);
    return view;
  }

  // ---- changes: each returns whether it changed anything (a change bumps the revision) ----

  /** Applies an auth command (already checked for its caller). */
  run(cmd: AuthCommand): boolean {
    switch (cmd.type) {
      case 'auth-enable':
        return this.enable();
      case 'auth-disable':
        return this.disable();
      case 'user-add':
        return this.userAdd(cmd.user);
      case 'user-delete':
        return this.userDelete(cmd.user);
      case 'user-grant-role':
        return this.grantRole(cmd.user, cmd.role);
      case 'user-revoke-role':
        return this.revokeRole(cmd.user, cmd.role);
      case 'role-add':
        return this.roleAdd(cmd.role);
      case 'role-delete':
        return this.roleDelete(cmd.role);
      case 'role-grant-permission':
        return this.grantPermission(cmd.role, cmd.permission);
      case 'role-revoke-permission':
        return this.revokePermission(cmd.role, cmd.key, cmd.rangeEnd);
    }
  }

  enable(): boolean {
    if (this.enabled) return false;
    if (!this.users.get(ROOT)?.has(ROOT)) {
      throw invalidAuthChange(
        'auth enable needs a user root with the role root first: parley kv user add root; parley kv user grant root root',
      );
    }
    this.enabled = true;
    return this.changed();
  }

  disable(): boolean {
    if (!this.enabled) return false;
    this.enabled = false;
    return this.changed();
  }

  userAdd(name: string): boolean {
    if (this.users.has(name)) throw exists(`user '${name}'`);
    this.users.set(name, new Set());
    return this.changed();
  }

  userDelete(name: string): boolean {
    this.mustUser(name);
    if (this.enabled && name === ROOT) throw invalidAuthChange('the user root cannot be deleted while auth is enabled');
    this.users.delete(name);
    return this.changed();
  }

  grantRole(user: string, role: string): boolean {
    const roles = this.mustUser(user);
    if (role !== ROOT) this.mustRole(role);
    if (roles.has(role)) return false;
    roles.add(role);
    return this.changed();
  }

  revokeRole(user: string, role: string): boolean {
    const roles = this.mustUser(user);
    if (!roles.has(role)) throw missing(`user '${user}' does not have the role '${role}'`);
    if (this.enabled && user === ROOT && role === ROOT) {
      throw invalidAuthChange('the role root cannot be revoked from the user root while auth is enabled');
    }
    roles.delete(role);
    return this.changed();
  }

  roleAdd(name: string): boolean {
    if (name === ROOT || this.roles.has(name)) throw exists(`role '${name}'`);
    this.roles.set(name, []);
    return this.changed();
  }

  /** Deletes a role and takes it from every user. */
  roleDelete(name: string): boolean {
    if (name === ROOT) throw invalidAuthChange('the role root is built in and cannot be deleted');
    this.mustRole(name);
    this.roles.delete(name);
    for (const roles of this.users.values()) roles.delete(name);
    return this.changed();
  }

  /** Adds a permission; one on the same [key, rangeEnd) changes its type. */
  grantPermission(role: string, p: KvPermission): boolean {
    if (role === ROOT) throw invalidAuthChange('the role root already has every permission');
    const perms = this.mustRole(role);
    const at = perms.findIndex((q) => sameRange(q, p));
    if (at >= 0 && perms[at]!.type === p.type) return false;
    if (at >= 0) perms[at] = p;
    else perms.push(p);
    return this.changed();
  }

  revokePermission(role: string, key: Uint8Array, rangeEnd: Uint8Array | undefined): boolean {
    const perms = this.mustRole(role);
    const at = perms.findIndex((q) => sameRange(q, { type: 'read', key, rangeEnd }));
    if (at < 0) throw missing(`role '${role}' has no permission on that key or range`);
    perms.splice(at, 1);
    return this.changed();
  }

  private changed(): true {
    this.revision++;
    this.views.clear();
    return true;
  }

  private mustUser(name: string): Set<string> {
    const u = this.users.get(name);
    if (u === undefined) throw missing(`user '${name}' not found`);
    return u;
  }

  private mustRole(name: string): KvPermission[] {
    const r = this.roles.get(name);
    if (r === undefined) throw missing(`role '${name}' not found`);
    return r;
  }

  // ---- reads (each checked for `caller`) ----

  status(): { enabled: boolean; authRevision: number } {
    return { enabled: this.enabled, authRevision: this.revision };
  }

  /** A user: root, or the user itself. */
  user(caller: KvCaller, name: string): KvUserInfo {
    if (!(caller.kind === 'user' && caller.authenticated && caller.name === name)) this.checkAdmin(caller, 'user get');
    return { name, roles: [...this.mustUser(name)].sort() };
  }

  userNames(caller: KvCaller): string[] {
    this.checkAdmin(caller, 'user list');
    return [...this.users.keys()].sort();
  }

  /** A role: root, or a user who has it. */
  role(caller: KvCaller, name: string): KvRoleInfo {
    const own = caller.kind === 'user' && caller.authenticated && this.users.get(caller.name)?.has(name) === true;
    if (!own) this.checkAdmin(caller, 'role get');
    if (name === ROOT) return { name, permissions: [{ type: 'readwrite', key: new Uint8Array(0), rangeEnd: ZERO }] };
    return { name, permissions: this.mustRole(name).slice() };
  }

  /** Every role, the built-in root included. */
  roleNames(caller: KvCaller): string[] {
    this.checkAdmin(caller, 'role list');
    return [ROOT, ...this.roles.keys()].sort();
  }

  // ---- snapshots ----

  dump(): AuthDump {
    return [
      this.enabled ? 1 : 0,
      this.revision,
      [...this.users].map(([name, roles]) => [name, [...roles]]),
      [...this.roles].map(([name, perms]) => [name, perms.map((p) => [p.type, p.key, p.rangeEnd ?? null])]),
    ];
  }

  load(d: AuthDump): void {
    const [enabled, revision, users, roles] = d;
    this.users.clear();
    this.roles.clear();
    this.views.clear();
    this.enabled = enabled === 1;
    this.revision = revision;
    for (const [name, rs] of users) this.users.set(name, new Set(rs));
    for (const [name, perms] of roles) {
      this.roles.set(
        name,
        perms.map(([type, key, rangeEnd]) =>
          rangeEnd === null
            ? { type, key: new Uint8Array(key) }
            : { type, key: new Uint8Array(key), rangeEnd: new Uint8Array(rangeEnd) },
        ),
      );
    }
  }
}

const ZERO = new Uint8Array([0]);

function sameRange(a: KvPermission, b: KvPermission): boolean {
  if (!bytesEqual(a.key, b.key)) return false;
  if (a.rangeEnd === undefined || b.rangeEnd === undefined) return a.rangeEnd === b.rangeEnd;
  return bytesEqual(a.rangeEnd, b.rangeEnd);
}

function exists(what: string): ParleyError {
  return new ParleyError('ALREADY_EXISTS', `${what} already exists`, { details: { reason: 'kv-auth' } });
}

function missing(message: string): ParleyError {
  return new ParleyError('NOT_FOUND', message, { details: { reason: 'kv-auth' } });
}
