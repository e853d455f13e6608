import { defineService } from '../../node/service.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { MemberStatus } from '../contract.js';
import type { KvMember } from './kv-member.js';
import { type AddressOf, obj, type Params, requireLeader } from './request-guards.js';

/** `$cluster`: membership (status, add, remove, transferLeader). Changes run on the leader. */
export function createClusterService(member: KvMember, addressOf: AddressOf) {
  const leaderOnly = () => requireLeader(member, addressOf);
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
