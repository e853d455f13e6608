import { type RangeOp, validateCommand } from '../../kv/commands.js';
import type { KeyRangeSpec, KvResult } from '../../kv/types.js';
import type { WatchRequest } from '../../kv/watch-hub.js';
import type { Authorizer } from '../../node/authorization/authorizer.js';
import type { Context } from '../../node/context.js';
import { defineService } from '../../node/service.js';
import { ParleyError } from '../../wire/parley-error.js';
import { kvAuthActions } from './kv-auth-actions.js';
import { type KvAction, kvAuthorization, membersOnly } from './kv-authorization.js';
import { kvCallerOf } from './kv-caller.js';
import type { KvMember } from './kv-member.js';
import { auditKvRoleRefusals } from './kv-role-audit.js';
import {
  type AddressOf,
  notLeader,
  obj,
  type Params,
  requireLeader,
  requireMember,
  retryId,
} from './request-guards.js';
import { WatchSessions } from './watch-sessions.js';

export interface KvServiceOptions {
  /** Most watches one caller may hold on this member (default DEFAULT_MAX_WATCHES_PER_CALLER, 1000). */
  readonly maxWatchesPerCaller?: number;
}

/**
 * `$kv`: the KV API of one member. Writes and lease queries run on the leader; elsewhere they
 * fail with UNAVAILABLE reason 'not-leader' naming the leader (the client follows it).
 * Linearizable reads are served by any member (ReadIndex through the leader, then a local read);
 * serializable reads and watches by any member at once. A member removed
 * from the cluster serves nothing: UNAVAILABLE, reason 'member-removed'. Under the node's
 * authorization policy every request is checked first (`authorize`, kv-authorization.ts).
 *
 * KV roles: every request is also checked for its caller (kvCallerOf(ctx)) against the auth
 * state the member has applied: writes when proposed and again when applied (KvMember.propose),
 * reads when served, watches when started and whenever the auth state changes.
 */
export function createKvService(
  member: KvMember,
  addressOf: AddressOf,
  authorizer?: Authorizer,
  options: KvServiceOptions = {},
) {
  const check = authorizer ? kvAuthorization(authorizer, member) : undefined;
  const authorize = (ctx: Context, action: KvAction, params: unknown) => check?.(ctx, action, params);
  const clock = () => member.now();
  const sessions = new WatchSessions(member.sm.watches, undefined, undefined, options.maxWatchesPerCaller);
  const leaderOnly = () => requireLeader(member, addressOf);
  /** Replicates a command on the leader; the result must be of `type` (the contract's result). */
  const write = async <T extends KvResult['type']>(
    type: T,
    command: Params,
    ctx: Context,
  ): Promise<Extract<KvResult, { type: T }>> => {
    leaderOnly();
    const r = await member.propose({ ...command, type }, kvCallerOf(ctx));
    // Only a retry identity reused for another command can answer with another result type:
    // the member remembered the first command's result under (clientId, seq).
    if (r.type !== type)
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `clientId '${String(command.clientId)}' seq ${String(command.seq)} was already used for a ${r.type} command; use a new seq for every command`,
        { details: { reason: 'retry-id-reused' } },
      );
    return r as Extract<KvResult, { type: T }>;
  };
  return defineService({
    name: '$kv',
    actions: auditKvRoleRefusals(authorizer, {
      range: async (params: unknown, ctx: Context) => {
        authorize(ctx, 'range', params);
        requireMember(member);
        const p = obj(params);
        if (p.serializable !== true) {
          // Linearizable on any member: ReadIndex (asked of the leader by a follower), then a
          // local read once this member has applied up to it.
          if (member.leader === null) throw notLeader(member.id, null, null);
          await member.readIndex();
        }
        const out = member.sm.read(
          {
            range: p.range as KeyRangeSpec<Uint8Array>,
            options: p.options as RangeOp['options'], // validated by the state machine
          },
          kvCallerOf(ctx),
        );
        if (!out.ok) throw out.error;
        if (out.result.type !== 'range')
          throw new ParleyError('INTERNAL', `a read returned a ${out.result.type} result`);
        return out.result;
      },
      put: (params: unknown, ctx: Context) => {
        authorize(ctx, 'put', params);
        return write('put', obj(params), ctx);
      },
      delete: (params: unknown, ctx: Context) => {
        authorize(ctx, 'delete', params);
        return write('delete', obj(params), ctx);
      },
      txn: (params: unknown, ctx: Context) => {
        authorize(ctx, 'txn', params);
        return write('txn', obj(params), ctx);
      },
      compact: (params: unknown, ctx: Context) => {
        authorize(ctx, 'compact', params);
        return write('compact', { revision: obj(params).revision, ...retryId(obj(params)) }, ctx);
      },
      leaseGrant: (params: unknown, ctx: Context) => {
        authorize(ctx, 'leaseGrant', params);
        const p = obj(params);
        return write('lease-grant', { id: p.id, ttlMs: p.ttlMs, now: clock(), ...retryId(p) }, ctx);
      },
      leaseRevoke: (params: unknown, ctx: Context) => {
        authorize(ctx, 'leaseRevoke', params);
        const p = obj(params);
        return write('lease-revoke', { id: p.id, ...retryId(p) }, ctx);
      },
      leaseKeepAlive: async (params: unknown, ctx: Context) => {
        authorize(ctx, 'leaseKeepAlive', params);
        const id = obj(params).id;
        if (typeof id !== 'number') throw new ParleyError('INVALID_ARGUMENT', 'id must be a lease id (a number)');
        leaderOnly();
        member.sm.auth.checkUser(kvCallerOf(ctx));
        const r = await member.keepAlive(id);
        if (r.type !== 'lease-keepalive') throw new ParleyError('INTERNAL', `a keep-alive returned a ${r.type} result`);
        return r;
      },
      leaseTimeToLive: async (params: unknown, ctx: Context) => {
        authorize(ctx, 'leaseTimeToLive', params);
        const p = obj(params);
        leaderOnly();
        await member.readIndex();
        if (typeof p.id !== 'number') throw new ParleyError('INVALID_ARGUMENT', 'id must be a lease id (a number)');
        return member.sm.timeToLive(p.id, clock(), { keys: p.keys === true }, kvCallerOf(ctx));
      },
      leases: async (params: unknown, ctx: Context) => {
        authorize(ctx, 'leases', params ?? {});
        leaderOnly();
        await member.readIndex();
        member.sm.auth.checkUser(kvCallerOf(ctx));
        return { ids: member.sm.leaseIds() };
      },
      watch: (params: unknown, ctx: Context) => {
        authorize(ctx, 'watch', params);
        requireMember(member);
        const p = obj(params);
        const asRange = validateCommand({ type: 'range', range: p.range }, member.sm.limits) as RangeOp;
        const { range } = asRange;
        const caller = kvCallerOf(ctx);
        member.sm.authorize(caller, asRange);
        const req: WatchRequest = {
          caller,
          range,
          startRevision: typeof p.startRevision === 'number' ? p.startRevision : undefined,
          prevKv: p.prevKv === true,
          noPut: p.noPut === true,
          noDelete: p.noDelete === true,
        };
        try {
          return { watchId: sessions.create(req, ctx.callerId) };
        } catch (err) {
          throw ParleyError.from(err);
        }
      },
      watchPoll: async (params: unknown, ctx: Context) => {
        requireMember(member);
        const p = obj(params);
        const waitMs = typeof p.waitMs === 'number' ? Math.max(0, Math.min(p.waitMs, 30_000)) : 1000;
        const r = await sessions.poll(p.watchId, ctx.callerId, waitMs, ctx.signal);
        if (r.canceled !== undefined) throw r.canceled;
        return { events: r.events, revision: r.revision };
      },
      watchCancel: (params: unknown, ctx: Context) => ({
        canceled: sessions.cancel(obj(params).watchId, ctx.callerId),
      }),
      ...membersOnly(authorizer, kvAuthActions(member, leaderOnly, authorizer)),
      status: (params: unknown, ctx: Context) => {
        authorize(ctx, 'status', params ?? {});
        return {
          id: member.id,
          leader: member.leader,
          isLeader: member.isLeader,
          revision: member.sm.store.revision,
          compactRevision: member.sm.store.compactRevision,
          applied: member.applied,
        };
      },
    }),
    stopped: () => sessions.close(),
  });
}
