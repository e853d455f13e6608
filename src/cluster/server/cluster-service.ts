import type { AuditRecord } from '../../node/authorization/audit-log.js';
import type { Context } from '../../node/context.js';
import { defineService } from '../../node/service.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { MemberStatus } from '../contract.js';
import type { KvMember } from './kv-member.js';
import { type AddressOf, obj, type Params, requireLeader } from './request-guards.js';

/**
 * Longest member id and address a membership change accepts: they are replicated (the id in the
 * conf change, the address in its context) and every member keeps them, so they are validated
 * here, before the change is proposed, like a KV command.
 */
const MAX_MEMBER_ID_LENGTH = 256;
const MAX_ADDRESS_LENGTH = 1024;

/**
 * `$cluster`: membership (status, add, remove, transferLeader). Changes run on the leader; each
 * applied add or remove is written to the audit log (`audit`: the node's `authorization.record`).
 */
export function createClusterService(
  member: KvMember,
  addressOf: AddressOf,
  audit: (entry: AuditRecord) => void = () => {},
) {
  const leaderOnly = () => requireLeader(member, addressOf);
  const changed = (ctx: Context, details: Record<string, unknown>) =>
    audit({
      event: 'membership-changed',
      ...(ctx.principal ? { principal: ctx.principal.name, via: ctx.principal.via } : {}),
      details,
    });
  const idParam = (p: Params, name: string): string => {
    const v = p[name];
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_MEMBER_ID_LENGTH || /\s/.test(v)) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `${name} must be a member id (1–${MAX_MEMBER_ID_LENGTH} characters, no spaces)`,
      );
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
      add: async (params: unknown, ctx: Context) => {
        const p = obj(params);
        const id = idParam(p, 'id');
        if (typeof p.address !== 'string' || p.address.length > MAX_ADDRESS_LENGTH || !/^\S+:\d+$/.test(p.address)) {
          throw new ParleyError(
            'INVALID_ARGUMENT',
            `address must be host:port (at most ${MAX_ADDRESS_LENGTH} characters)`,
          );
        }
        leaderOnly();
        const conf = await member.addMember(id, p.address);
        changed(ctx, { change: 'add', id, address: p.address, voters: conf.voters });
        return { voters: conf.voters };
      },
      remove: async (params: unknown, ctx: Context) => {
        const id = idParam(obj(params), 'id');
        leaderOnly();
        const conf = await member.removeMember(id);
        changed(ctx, { change: 'remove', id, voters: conf.voters });
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
