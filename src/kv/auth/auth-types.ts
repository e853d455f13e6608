/**
 * The public types of KV roles (etcd-style RBAC): who asks, what a role may do, what the
 * auth state reports. Keys are bytes, as everywhere in the store.
 */

/** read, write, or both, on a key, a range [key, rangeEnd) or everything from key on. */
export type KvPermissionType = 'read' | 'write' | 'readwrite';

/**
 * A permission as stored: `rangeEnd` absent = the one key `key`; `rangeEnd` = a single zero
 * byte ('\0') = every key from `key` on (open-ended; with an empty `key`: every key);
 * otherwise the keys in [key, rangeEnd). A prefix is stored as [prefix, prefixEnd(prefix)).
 */
export interface KvPermission {
  readonly type: KvPermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

/**
 * Who a request is checked for. `server`: this cluster's own members (lease duties, calls a
 * server node makes to itself): never checked. `user`: the caller's principal name, and whether
 * the connection's handshake proved it.
 */
export type KvCaller =
  | { readonly kind: 'server' }
  | { readonly kind: 'user'; readonly name: string; readonly authenticated: boolean };

/**
 * Stamped on every command a caller proposes: who (null: a caller no authentication vouches
 * for) and the auth revision the member checked the command against. Applied under another
 * auth revision, the command fails with ABORTED (reason 'auth-revision-changed') and is
 * checked and proposed again.
 */
export interface AuthStamp {
  readonly user: string | null;
  readonly revision: number;
}

export interface KvAuthStatus {
  readonly enabled: boolean;
  /** Bumped by every change of users, roles, permissions and the enabled flag. */
  readonly authRevision: number;
}

export interface KvUserInfo {
  readonly name: string;
  readonly roles: readonly string[];
}

export interface KvRoleInfo {
  readonly name: string;
  readonly permissions: readonly KvPermission[];
}

/** The special role that may do everything, including the admin commands. */
export const ROOT = 'root';
