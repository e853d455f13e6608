import type { KvCaller } from '../../kv/auth/auth-types.js';
import type { Authorizer } from '../../node/authorization/authorizer.js';
import type { Context } from '../../node/context.js';
import { ParleyError } from '../../wire/parley-error.js';
import { kvCallerOf } from './kv-caller.js';
import type { KvMember } from './kv-member.js';
import { auditRoleChange } from './kv-role-audit.js';
import { notLeader, obj, type Params, requireMember, retryId } from './request-guards.js';

/**
 * The `$kv` actions of KV roles (etcd's Auth API). Changes are replicated commands, checked
 * when proposed and when applied (root only while auth is enabled); reads are served by any
 * member after a ReadIndex, checked against the state it has applied then.
 */
export function kvAuthActions(member: KvMember, leaderOnly: () => void, authorizer?: Authorizer) {
  /** Replicates an auth change on the leader; resolves with the auth revision after it. */
  const change =
    (type: string, fields: (p: Params) => Params = () => ({})) =>
    async (params: unknown, ctx: Context): Promise<{ authRevision: number }> => {
      const p = obj(params);
      leaderOnly();
      const r = await member.propose({ ...fields(p), ...retryId(p), type }, kvCallerOf(ctx));
      if (r.type !== 'auth') throw new ParleyError('INTERNAL', `a ${type} command returned a ${r.type} result`);
      const named = (k: string) => (typeof p[k] === 'string' ? { [k]: p[k] } : {});
      auditRoleChange(authorizer, ctx, {
        change: type,
        ...named('user'),
        ...named('role'),
        authRevision: r.authRevision,
      });
      return { authRevision: r.authRevision };
    };
  /** Linearizable: read once this member has applied everything committed when asked. */
  const read =
    <T>(answer: (caller: KvCaller, p: Params) => T) =>
    async (params: unknown, ctx: Context): Promise<T> => {
      requireMember(member);
      const p = obj(params);
      if (member.leader === null) throw notLeader(member.id, null, null);
      await member.readIndex();
      return answer(kvCallerOf(ctx), p);
    };
  const auth = member.sm.auth;
  const user = (p: Params) => ({ user: p.user });
  const userRole = (p: Params) => ({ user: p.user, role: p.role });
  const role = (p: Params) => ({ role: p.role });
  return {
    authEnable: change('auth-enable'),
    authDisable: change('auth-disable'),
    authStatus: read(() => auth.status()),
    userAdd: change('user-add', user),
    userDelete: change('user-delete', user),
    userGrantRole: change('user-grant-role', userRole),
    userRevokeRole: change('user-revoke-role', userRole),
    userGet: read((caller, p) => auth.user(caller, name(p.user, 'user'))),
    userList: read((caller) => ({ users: auth.userNames(caller) })),
    roleAdd: change('role-add', role),
    roleDelete: change('role-delete', role),
    roleGrantPermission: change('role-grant-permission', (p) => ({ role: p.role, permission: p.permission })),
    roleRevokePermission: change('role-revoke-permission', (p) => ({
      role: p.role,
      key: p.key,
      rangeEnd: p.rangeEnd,
      prefix: p.prefix,
    })),
    roleGet: read((caller, p) => auth.role(caller, name(p.role, 'role'))),
    roleList: read((caller) => ({ roles: auth.roleNames(caller) })),
  };
}

function name(x: unknown, what: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new ParleyError('INVALID_ARGUMENT', `${what} must be a name`);
  return x;
}
