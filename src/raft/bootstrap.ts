import { encodeConfChange } from './core/conf-change.js';
import { raftError } from './core/errors.js';
import type { Entry, HardState, NodeId } from './types.js';
import { EntryType } from './types.js';

/**
 * What every member of a brand-new cluster persists before its first start: one AddNode
 * ConfChange entry per voter (indexes 1..n, term 1), already committed. Membership then lives
 * in the log like any later change, so a member added afterwards (starting from an empty
 * storage) learns the whole configuration from the leader's log or snapshot.
 *
 * Every initial member must be bootstrapped with the same voter list, in the same order.
 */
export function bootstrapCluster(voters: readonly NodeId[]): { hardState: HardState; entries: Entry[] } {
  if (voters.length === 0) throw raftError('invalid-config', 'bootstrap needs at least one voter');
  if (new Set(voters).size !== voters.length) throw raftError('invalid-config', 'bootstrap voters must be distinct');
  for (const id of voters) {
    if (typeof id !== 'string' || id === '') throw raftError('invalid-config', 'voter ids must be non-empty strings');
  }
  const entries = voters.map(
    (nodeId, i): Entry => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ transition: 'Auto', changes: [{ type: 'AddNode', nodeId }] }),
    }),
  );
  return { hardState: { term: 1, vote: null, commit: voters.length }, entries };
}
