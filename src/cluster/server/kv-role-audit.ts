import type { Authorizer } from '../../node/authorization/authorizer.js';
import type { Context } from '../../node/context.js';
import { ParleyError } from '../../wire/parley-error.js';

/** The `reason`s of the errors KV roles refuse with (kv/auth/auth-errors.ts). */
const KV_ROLE_REFUSALS = new Set(['kv-permission', 'kv-auth-enabled']);

/**
 * Writes every KV-role refusal of `$kv` to the node's audit log, rate-limited like the policy's
 * own denials (one line per principal, action and message per window): wraps each action, and
 * rethrows the error unchanged. Other errors pass untouched.
 */
export function auditKvRoleRefusals<T extends Record<string, (params: never, ctx: Context) => unknown>>(
  authorizer: Authorizer | undefined,
  actions: T,
): T {
  if (authorizer === undefined) return actions;
  const out: Record<string, (params: unknown, ctx: Context) => unknown> = {};
  const refused = (err: unknown, name: string, ctx: Context) => {
    const e = ParleyError.from(err);
    const reason = (e.details as { reason?: unknown } | undefined)?.reason;
    if (typeof reason === 'string' && KV_ROLE_REFUSALS.has(reason)) {
      authorizer.audit.denied({
        event: 'denied',
        principal: ctx.principal?.name ?? ctx.callerId,
        ...(ctx.principal ? { via: ctx.principal.via } : {}),
        permission: 'kvRole',
        target: `$kv.${name}`,
        code: e.code,
        reason: e.message,
      });
    }
    throw err;
  };
  for (const [name, handler] of Object.entries(actions) as [string, (p: unknown, ctx: Context) => unknown][]) {
    out[name] = (params, ctx) => {
      try {
        const r = handler(params, ctx);
        return r instanceof Promise ? r.catch((err) => refused(err, name, ctx)) : r;
      } catch (err) {
        return refused(err, name, ctx);
      }
    };
  }
  return out as unknown as T;
}

/** Writes a KV users/roles change to the node's audit log ('role-changed'). */
export function auditRoleChange(
  authorizer: Authorizer | undefined,
  ctx: Context,
  details: Readonly<Record<string, unknown>>,
): void {
  authorizer?.record({
    event: 'role-changed',
    ...(ctx.principal ? { principal: ctx.principal.name, via: ctx.principal.via } : {}),
    details,
  });
}
