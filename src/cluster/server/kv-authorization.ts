import { type RangeOp, type TxnCommand, type TxnOp, validateCommand } from '../../kv/commands.js';
import { keyRange } from '../../kv/key-range.js';
import type { KeyRangeSpec } from '../../kv/types.js';
import type { Authorizer } from '../../node/authorization/authorizer.js';
import type { Permission } from '../../node/authorization/decision.js';
import {
  intersects,
  type KeySpan,
  minus,
  normalizeSpan,
  prefixSpan,
  utf8ByteString,
} from '../../node/authorization/key-spans.js';
import type { Context } from '../../node/context.js';
import { type Principal, unauthenticatedPrincipal } from '../../transport/principal.js';
import { ParleyError } from '../../wire/parley-error.js';
import { REGISTRY_PREFIX } from '../contract.js';
import type { KvMember } from './kv-member.js';
import { obj } from './request-guards.js';

/** Principals remembered for re-checking running watches (past it the table starts over). */
const MAX_WATCHERS = 10_000;

/** The `$kv` actions, as the authorization sees them. */
export type KvAction =
  | 'range'
  | 'put'
  | 'delete'
  | 'txn'
  | 'compact'
  | 'leaseGrant'
  | 'leaseRevoke'
  | 'leaseKeepAlive'
  | 'leaseTimeToLive'
  | 'leases'
  | 'watch'
  | 'status';

/**
 * What `$kv` asks of the node's policy before a request does anything (before a read, before a
 * proposal): each request becomes the key spans it can touch, checked as kvRead / kvWrite.
 *
 * - range, watch (at start, and again for running watches whenever the policy changes): kvRead
 *   on every key the range can cover — a range is allowed only when it lies entirely inside
 *   allowed prefixes, open-ended ranges (`{ from }`) included.
 * - put, delete: kvWrite on the key / range. txn: kvRead on every compared key and every range
 *   op, kvWrite on every put and delete, in both branches (whichever runs).
 * - compact (destroys history for every key): members only.
 * - status, leaseGrant, leaseKeepAlive, leases, leaseTimeToLive: any KV grant (`kvAny`);
 *   leaseTimeToLive with `keys` also kvRead on every attached key (etcd CVE-2023-32082);
 *   leaseRevoke (deletes the attached keys) kvWrite on every attached key.
 * - Keys under REGISTRY_PREFIX are written only by cluster members; members also read them.
 * - KV users and roles (`authEnable`, `userAdd`, `roleGrantPermission`, ... : `membersOnly`):
 *   members only, then the KV's own root check.
 *
 * Invariant: with no policy, or for this node's own calls, nothing is checked or decoded twice.
 * The check is at request time on the serving member: a lease's keys attached between the
 * check and the apply are not re-checked (apply-time checks are the KV roles' job). A running
 * watch is re-checked for the principal that last started a watch under its caller's name
 * (a name unseen since the table started over counts with no groups, so it may end too soon,
 * never too late).
 */
export function kvAuthorization(authorizer: Authorizer, member: KvMember) {
  const registry = prefixSpan(utf8ByteString(REGISTRY_PREFIX));
  const check = (principal: Principal | undefined, permission: Permission) => authorizer.require(principal, permission);

  const spans = (principal: Principal | undefined, kind: 'kvRead' | 'kvWrite', asked: KeySpan) => {
    const span = normalizeSpan(asked);
    if (!authorizer.isMember(principal)) {
      if (kind === 'kvWrite' && intersects(span, registry))
        check(principal, { kind: 'internal', action: `$kv write under '${REGISTRY_PREFIX}'` });
      check(principal, { kind, span });
      return;
    }
    // Members: the registry is theirs; the rest of the span is checked like anyone's.
    for (const rest of minus(span, registry)) check(principal, { kind, span: rest });
  };
  const rangeSpan = (range: unknown): KeySpan => {
    const { range: spec } = validateCommand({ type: 'range', range }, member.sm.limits) as RangeOp;
    return spanOf(spec);
  };
  const op = (principal: Principal | undefined, o: TxnOp) => {
    if (o.type === 'put') spans(principal, 'kvWrite', spanOf({ key: o.key }));
    else spans(principal, o.type === 'range' ? 'kvRead' : 'kvWrite', spanOf(o.range));
  };
  const leaseKeys = (id: unknown): Uint8Array[] => {
    if (typeof id !== 'number') return [];
    try {
      return member.sm.timeToLive(id, member.now(), { keys: true }).keys ?? [];
    } catch {
      return []; // no such lease: the request itself will say so
    }
  };

  // Running watches: each policy change ends the watches their principal may no longer read (at
  // their next poll, with the denial). The hub knows callers by name; the principal that last
  // started a watch under that name stands for it (groups and how it authenticated included).
  const watchers = new Map<string, Principal>();
  const watcherKey = (name: string, authenticated: boolean) => `${authenticated ? 'a' : 'u'}:${name}`;
  authorizer.onChange(() => {
    if (!authorizer.enabled) return;
    member.sm.watches.endDisallowed((caller, range) => {
      if (caller.kind !== 'user') return;
      const principal =
        watchers.get(watcherKey(caller.name, caller.authenticated)) ??
        (caller.authenticated
          ? { name: caller.name, groups: [], via: 'hook', authenticated: true }
          : unauthenticatedPrincipal(caller.name));
      spans(principal, 'kvRead', { from: range.from, to: range.to });
    });
  });

  /** Throws PERMISSION_DENIED / UNAUTHENTICATED when the caller may not make this request. */
  return (ctx: Context, action: KvAction, params: unknown): void => {
    const principal = ctx.principal;
    if (!authorizer.enabled || principal?.via === 'local') return;
    const p = obj(params);
    switch (action) {
      case 'range':
        spans(principal, 'kvRead', rangeSpan(p.range));
        return;
      case 'watch':
        spans(principal, 'kvRead', rangeSpan(p.range));
        if (principal) {
          if (watchers.size >= MAX_WATCHERS) watchers.clear();
          watchers.set(watcherKey(principal.name, principal.authenticated), principal);
        }
        return;
      case 'put':
        spans(principal, 'kvWrite', rangeSpan({ key: p.key }));
        return;
      case 'delete':
        spans(principal, 'kvWrite', rangeSpan(p.range));
        return;
      case 'txn': {
        const txn = validateCommand(
          { ...p, type: 'txn', clientId: undefined, seq: undefined },
          member.sm.limits,
        ) as TxnCommand;
        for (const c of txn.compare) spans(principal, 'kvRead', spanOf({ key: c.key }));
        for (const o of [...txn.success, ...txn.failure]) op(principal, o);
        return;
      }
      case 'compact':
        check(principal, { kind: 'internal', action: '$kv.compact' });
        return;
      case 'leaseRevoke':
        check(principal, { kind: 'kvAny' });
        for (const k of leaseKeys(p.id)) spans(principal, 'kvWrite', spanOf({ key: k }));
        return;
      case 'leaseTimeToLive':
        check(principal, { kind: 'kvAny' });
        if (p.keys === true) for (const k of leaseKeys(p.id)) spans(principal, 'kvRead', spanOf({ key: k }));
        return;
      case 'leaseGrant':
      case 'leaseKeepAlive':
      case 'leases':
      case 'status':
        check(principal, { kind: 'kvAny' });
        return;
      default:
        throw new ParleyError('INTERNAL', `no authorization rule for $kv.${action as string}`);
    }
  };
}

function spanOf(spec: KeyRangeSpec<Uint8Array>): KeySpan {
  const r = keyRange(spec);
  return { from: r.from, to: r.to };
}

/**
 * Wraps `$kv` admin handlers (KV users and roles) so that under a policy only cluster members
 * reach them; the KV's own checks (root while KV auth is on) run after.
 */
export function membersOnly<T extends Record<string, (params: unknown, ctx: Context) => unknown>>(
  authorizer: Authorizer | undefined,
  actions: T,
): T {
  if (authorizer === undefined) return actions;
  const out: Record<string, (params: unknown, ctx: Context) => unknown> = {};
  for (const [name, handler] of Object.entries(actions)) {
    out[name] = (params, ctx) => {
      authorizer.require(ctx.principal, { kind: 'internal', action: `$kv.${name}` });
      return handler(params, ctx);
    };
  }
  return out as T;
}
