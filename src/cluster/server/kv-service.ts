import { type RangeOp, validateCommand } from '../../kv/commands.js';
import type { KeyRangeSpec, KvResult } from '../../kv/types.js';
import type { WatchRequest } from '../../kv/watch-hub.js';
import type { Context } from '../../node/context.js';
import { defineService } from '../../node/service.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { KvMember } from './kv-member.js';
import { type AddressOf, notLeader, obj, type Params, requireLeader, requireMember } from './request-guards.js';
import { WatchSessions } from './watch-sessions.js';

export interface KvServiceOptions {
  /** Most watches one caller may hold on this member (default DEFAULT_MAX_WATCHES_PER_CALLER, 1000). */
  readonly maxWatchesPerCaller?: number;
}

/** Copies the retry identity (clientId, seq) when present; `KvMember.propose` validates it with the command. */
function retryId(p: Params): { clientId?: unknown; seq?: unknown } {
  return p.clientId === undefined ? {} : { clientId: p.clientId, seq: p.seq };
}

/**
 * `$kv`: the KV API of one member. Writes and lease queries run on the leader; elsewhere they
 * fail with UNAVAILABLE reason 'not-leader' naming the leader (the client follows it).
 * Linearizable reads are served by any member (ReadIndex through the leader, then a local read);
 * serializable reads and watches by any member at once. A member removed
 * from the cluster serves nothing: UNAVAILABLE, reason 'member-removed'.
 */
export function createKvService(member: KvMember, addressOf: AddressOf, options: KvServiceOptions = {}) {
  const clock = () => member.now();
  const sessions = new WatchSessions(member.sm.watches, undefined, undefined, options.maxWatchesPerCaller);
  const leaderOnly = () => requireLeader(member, addressOf);
  /** Replicates a command on the leader; the result must be of `type` (the contract's result). */
  const write = async <T extends KvResult['type']>(
    type: T,
    command: Params,
  ): Promise<Extract<KvResult, { type: T }>> => {
    leaderOnly();
    const r = await member.propose({ ...command, type });
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
    actions: {
      range: async (params: unknown) => {
        requireMember(member);
        const p = obj(params);
        if (p.serializable !== true) {
          // Linearizable on any member: ReadIndex (asked of the leader by a follower), then a
          // local read once this member has applied up to it.
          if (member.leader === null) throw notLeader(member.id, null, null);
          await member.readIndex();
        }
        const out = member.sm.read({
          range: p.range as KeyRangeSpec<Uint8Array>,
          options: p.options as RangeOp['options'], // validated by the state machine
        });
        if (!out.ok) throw out.error;
        if (out.result.type !== 'range')
          throw new ParleyError('INTERNAL', `a read returned a ${out.result.type} result`);
        return out.result;
      },
      put: (params: unknown) => write('put', obj(params)),
      delete: (params: unknown) => write('delete', obj(params)),
      txn: (params: unknown) => write('txn', obj(params)),
      compact: (params: unknown) => write('compact', { revision: obj(params).revision, ...retryId(obj(params)) }),
      leaseGrant: (params: unknown) => {
        const p = obj(params);
        return write('lease-grant', { id: p.id, ttlMs: p.ttlMs, now: clock(), ...retryId(p) });
      },
      leaseRevoke: (params: unknown) => {
        const p = obj(params);
        return write('lease-revoke', { id: p.id, ...retryId(p) });
      },
      leaseKeepAlive: async (params: unknown) => {
        const id = obj(params).id;
        if (typeof id !== 'number') throw new ParleyError('INVALID_ARGUMENT', 'id must be a lease id (a number)');
        leaderOnly();
        const r = await member.keepAlive(id);
        if (r.type !== 'lease-keepalive') throw new ParleyError('INTERNAL', `a keep-alive returned a ${r.type} result`);
        return r;
      },
      leaseTimeToLive: async (params: unknown) => {
        const p = obj(params);
        leaderOnly();
        await member.readIndex();
        if (typeof p.id !== 'number') throw new ParleyError('INVALID_ARGUMENT', 'id must be a lease id (a number)');
        return member.sm.timeToLive(p.id, clock(), { keys: p.keys === true });
      },
      leases: async () => {
        leaderOnly();
        await member.readIndex();
        return { ids: member.sm.leaseIds() };
      },
      watch: (params: unknown, ctx: Context) => {
        requireMember(member);
        const p = obj(params);
        const { range } = validateCommand({ type: 'range', range: p.range }, member.sm.limits) as RangeOp;
        const req: WatchRequest = {
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
      status: () => ({
        id: member.id,
        leader: member.leader,
        isLeader: member.isLeader,
        revision: member.sm.store.revision,
        compactRevision: member.sm.store.compactRevision,
        applied: member.applied,
      }),
    },
    stopped: () => sessions.close(),
  });
}
