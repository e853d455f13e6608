import { type RangeOp, validateCommand } from '../kv/commands.js';
import type { KeyRangeSpec } from '../kv/types.js';
import type { WatchRequest } from '../kv/watch-hub.js';
import type { Context } from '../node/context.js';
import { defineService } from '../node/service.js';
import type { Message } from '../raft/core/messages.js';
import { ParleyError } from '../wire/parley-error.js';
import { type KvMember, notLeader } from './kv-member.js';
import { WatchSessions } from './watch-sessions.js';

/** How a service finds another member's address (for redirects and status): the node's view of the mesh. */
export type AddressOf = (id: string) => string | null;

type Params = Record<string, unknown>;

function obj(params: unknown): Params {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ParleyError('INVALID_ARGUMENT', 'params must be an object');
  }
  return params as Params;
}

/** Copies the retry identity (clientId, seq) when present; validation happens in the state machine. */
function retryId(p: Params): { clientId?: unknown; seq?: unknown } {
  return p.clientId === undefined ? {} : { clientId: p.clientId, seq: p.seq };
}

/**
 * `$kv`: the KV API of one member. Writes, linearizable reads and lease queries run on the
 * leader; elsewhere they fail with UNAVAILABLE reason 'not-leader' naming the leader (the
 * client follows it). Serializable reads and watches are served by any member.
 */
export function createKvService(member: KvMember, addressOf: AddressOf, clock: () => number = Date.now) {
  const sessions = new WatchSessions(member.sm.watches);
  const leaderOnly = () => {
    if (!member.isLeader) {
      const lead = member.leader;
      throw notLeader(member.id, lead, lead === null ? null : addressOf(lead));
    }
  };
  const write = (command: Params) => {
    leaderOnly();
    return member.propose(command);
  };
  return defineService({
    name: '$kv',
    actions: {
      range: async (params: unknown) => {
        const p = obj(params);
        if (p.serializable !== true) {
          leaderOnly();
          await member.readIndex();
        }
        const out = member.sm.read({
          range: p.range as KeyRangeSpec<Uint8Array>,
          options: p.options as RangeOp['options'], // validated by the state machine
        });
        if (!out.ok) throw out.error;
        return out.result;
      },
      put: (params: unknown) => write({ ...obj(params), type: 'put' }),
      delete: (params: unknown) => write({ ...obj(params), type: 'delete' }),
      txn: (params: unknown) => write({ ...obj(params), type: 'txn' }),
      compact: (params: unknown) => write({ type: 'compact', revision: obj(params).revision, ...retryId(obj(params)) }),
      leaseGrant: (params: unknown) => {
        const p = obj(params);
        return write({ type: 'lease-grant', id: p.id, ttlMs: p.ttlMs, now: clock(), ...retryId(p) });
      },
      leaseRevoke: (params: unknown) => {
        const p = obj(params);
        return write({ type: 'lease-revoke', id: p.id, ...retryId(p) });
      },
      leaseKeepAlive: (params: unknown) => {
        const id = obj(params).id;
        if (typeof id !== 'number') throw new ParleyError('INVALID_ARGUMENT', 'id must be a lease id (a number)');
        leaderOnly();
        return member.keepAlive(id, clock());
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
      watch: (params: unknown) => {
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
          return { watchId: sessions.create(req) };
        } catch (err) {
          throw ParleyError.from(err);
        }
      },
      watchPoll: async (params: unknown, ctx: Context) => {
        const p = obj(params);
        const waitMs = typeof p.waitMs === 'number' ? Math.max(0, Math.min(p.waitMs, 30_000)) : 1000;
        const r = await sessions.poll(p.watchId as string, waitMs, ctx.signal);
        if (r.canceled !== undefined) throw r.canceled;
        return { events: r.events, revision: r.revision };
      },
      watchCancel: (params: unknown) => ({ canceled: sessions.cancel(obj(params).watchId as string) }),
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

/** `$raft`: the one-way `step` that carries raft messages between members. */
export function createRaftService(member: KvMember) {
  return defineService({
    name: '$raft',
    actions: {
      step: (params: unknown) => {
        if (!Array.isArray(params)) return;
        for (const m of params) {
          if (typeof m !== 'object' || m === null || typeof (m as Message).type !== 'string') continue;
          try {
            member.step(m as Message);
          } catch {
            // A malformed or unexpected message from a peer is dropped; it never stops the member.
          }
        }
      },
    },
  });
}

export interface MemberStatus {
  readonly id: string;
  readonly address: string | null;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly revision: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** Leader only: replication progress (match index) per member. */
  readonly progress: Record<string, { match: number; state: string }> | null;
}

/** `$cluster`: membership (status, add, remove, transferLeader). Changes run on the leader. */
export function createClusterService(member: KvMember, addressOf: AddressOf) {
  const leaderOnly = () => {
    if (!member.isLeader) {
      const lead = member.leader;
      throw notLeader(member.id, lead, lead === null ? null : addressOf(lead));
    }
  };
  const idParam = (p: Params, name: string): string => {
    const v = p[name];
    if (typeof v !== 'string' || v.length === 0 || /\s/.test(v)) {
      throw new ParleyError('INVALID_ARGUMENT', `${name} must be a member id (non-empty, no spaces)`);
    }
    return v;
  };
  return defineService({
    name: '$cluster',
    actions: {
      status: (): MemberStatus => {
        const s = member.status();
        const progress =
          s.progress === null
            ? null
            : Object.fromEntries(Object.entries(s.progress).map(([id, p]) => [id, { match: p.match, state: p.state }]));
        return {
          id: member.id,
          address: addressOf(member.id),
          role: s.role,
          term: s.term,
          leader: s.lead,
          commit: s.commit,
          applied: member.applied,
          revision: member.sm.store.revision,
          voters: s.config.voters,
          learners: s.config.learners,
          progress,
        };
      },
      add: async (params: unknown) => {
        const p = obj(params);
        const id = idParam(p, 'id');
        if (typeof p.address !== 'string' || !/^\S+:\d+$/.test(p.address)) {
          throw new ParleyError('INVALID_ARGUMENT', 'address must be host:port');
        }
        leaderOnly();
        const conf = await member.addMember(id, p.address);
        return { voters: conf.voters };
      },
      remove: async (params: unknown) => {
        const id = idParam(obj(params), 'id');
        leaderOnly();
        const conf = await member.removeMember(id);
        return { voters: conf.voters };
      },
      transferLeader: (params: unknown) => {
        const to = idParam(obj(params), 'to');
        leaderOnly();
        member.transferLeadership(to);
        return { requested: to };
      },
    },
  });
}
