import { defineService } from '../../node/service.js';
import type { Message } from '../../raft/core/messages.js';
import type { KvMember } from './kv-member.js';

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
