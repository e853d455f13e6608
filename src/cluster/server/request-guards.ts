import type { NodeId } from '../../raft/types.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { KvMember } from './kv-member.js';

/** How a service finds another member's address (for redirects and status): the node's view of the mesh. */
export type AddressOf = (id: string) => string | null;

export type Params = Record<string, unknown>;

/** The params of an action, which must be an object (INVALID_ARGUMENT otherwise). */
export function obj(params: unknown): Params {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ParleyError('INVALID_ARGUMENT', 'params must be an object');
  }
  return params as Params;
}

/** UNAVAILABLE with the leader to redirect to; nothing was applied, so any request may be retried. */
export function notLeader(self: NodeId, leader: NodeId | null, leaderAddress: string | null): ParleyError {
  return new ParleyError(
    'UNAVAILABLE',
    leader === null
      ? `member '${self}' knows no leader (election in progress); retry shortly`
      : `member '${self}' is not the leader; send the request to '${leader}'${leaderAddress ? ` at ${leaderAddress}` : ''}`,
    { details: { reason: 'not-leader', leader, leaderAddress } },
  );
}

/** Throws UNAVAILABLE (reason 'member-removed') once `member` was removed from the cluster. */
export function requireMember(member: KvMember): void {
  const removed = member.removed;
  if (removed !== null) throw removed;
}

/** Throws `notLeader` unless `member` leads (or 'member-removed'): the guard of every leader-only action. */
export function requireLeader(member: KvMember, addressOf: AddressOf): void {
  requireMember(member);
  if (member.isLeader) return;
  const lead = member.leader;
  throw notLeader(member.id, lead, lead === null ? null : addressOf(lead));
}

/** Copies the retry identity (clientId, seq) when present; `KvMember.propose` validates it with the command. */
export function retryId(p: Params): { clientId?: unknown; seq?: unknown } {
  return p.clientId === undefined ? {} : { clientId: p.clientId, seq: p.seq };
}
