import type { KvCaller } from '../../kv/auth/auth-types.js';
import type { Context } from '../../node/context.js';

/**
 * Who a `$kv` request is checked for (KV roles): the caller's principal as the connection's
 * handshake established it. This node's own calls (principal via 'local': the server's
 * recipes, a gateway it hosts) are the server's and are not checked; every other caller is a
 * user named by its principal, authenticated or not.
 */
export function kvCallerOf(ctx: Context): KvCaller {
  const p = ctx.principal;
  if (p === undefined) return { kind: 'user', name: ctx.callerId, authenticated: false };
  if (p.via === 'local') return { kind: 'server' };
  return { kind: 'user', name: p.name, authenticated: p.authenticated };
}
