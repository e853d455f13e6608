import type { KvAuthStatus, KvRoleInfo, KvUserInfo } from '../../kv/auth/auth-types.js';
import type { KvAction, KvParams, KvPermissionRange, KvPermissionSpec, KvReply, RetryId } from '../contract.js';

/** What an auth change resolves with: the auth revision after it. */
export interface KvAuthChange {
  readonly authRevision: number;
}

/**
 * KV roles as the client sees them (`kv.auth`; etcd's Auth API, without passwords: a user is
 * the principal a connection authenticates as). Changes need the root role while auth is
 * enabled; see docs/SECURITY.md, "KV roles".
 */
export interface KvAuthApi {
  /** Turns checks on; refused unless the user root exists and has the role root. */
  enable(): Promise<KvAuthChange>;
  disable(): Promise<KvAuthChange>;
  status(): Promise<KvAuthStatus>;
  readonly user: {
    add(name: string): Promise<KvAuthChange>;
    delete(name: string): Promise<KvAuthChange>;
    grantRole(name: string, role: string): Promise<KvAuthChange>;
    revokeRole(name: string, role: string): Promise<KvAuthChange>;
    /** Root, or the user itself. */
    get(name: string): Promise<KvUserInfo>;
    list(): Promise<string[]>;
  };
  readonly role: {
    add(name: string): Promise<KvAuthChange>;
    delete(name: string): Promise<KvAuthChange>;
    /** Grants read, write or readwrite on a key, [key, rangeEnd) ('\0': to the end) or a prefix. */
    grant(role: string, permission: KvPermissionSpec): Promise<KvAuthChange>;
    /** Takes back the permission on exactly these keys (whatever its type). */
    revoke(role: string, keys: KvPermissionRange): Promise<KvAuthChange>;
    /** Root, or a user who has the role. */
    get(name: string): Promise<KvRoleInfo>;
    /** Every role, root included. */
    list(): Promise<string[]>;
  };
}

type ChangeAction = {
  [A in KvAction]: KvParams<A> extends RetryId ? (KvReply<A> extends KvAuthChange ? A : never) : never;
}[KvAction];

/** The client's two ways of sending: a deduplicated write, and a linearizable read. */
export interface KvAuthTransport {
  write<A extends ChangeAction>(action: A, params: Omit<KvParams<A>, keyof RetryId>): Promise<KvReply<A>>;
  read<A extends KvAction>(action: A, params: KvParams<A>): Promise<KvReply<A>>;
}

export function kvAuthApi(t: KvAuthTransport): KvAuthApi {
  const change = async (p: Promise<KvAuthChange>): Promise<KvAuthChange> => ({ authRevision: (await p).authRevision });
  return {
    enable: () => change(t.write('$kv.authEnable', {})),
    disable: () => change(t.write('$kv.authDisable', {})),
    status: () => t.read('$kv.authStatus', {}),
    user: {
      add: (user) => change(t.write('$kv.userAdd', { user })),
      delete: (user) => change(t.write('$kv.userDelete', { user })),
      grantRole: (user, role) => change(t.write('$kv.userGrantRole', { user, role })),
      revokeRole: (user, role) => change(t.write('$kv.userRevokeRole', { user, role })),
      get: (user) => t.read('$kv.userGet', { user }),
      list: async () => (await t.read('$kv.userList', {})).users,
    },
    role: {
      add: (role) => change(t.write('$kv.roleAdd', { role })),
      delete: (role) => change(t.write('$kv.roleDelete', { role })),
      grant: (role, permission) => change(t.write('$kv.roleGrantPermission', { role, permission })),
      revoke: (role, keys) => change(t.write('$kv.roleRevokePermission', { role, ...keys })),
      get: (role) => t.read('$kv.roleGet', { role }),
      list: async () => (await t.read('$kv.roleList', {})).roles,
    },
  };
}
