import { dropProposal } from './errors.js';
import type { Message } from './messages.js';
import type { Raft } from './raft.js';
import { bcastAppend } from './replication.js';

/**
 * Message handling in the follower, pre-candidate and candidate roles. Called by Raft.step after
 * the term checks.
 */
export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case 'MsgProp':
      if (r.lead === null) dropProposal('no leader is known yet; retry after the election');
      if (r.cfg.disableProposalForwarding) dropProposal('proposal forwarding is disabled on this node');
      r.forward(m, r.lead);
      return;
    case 'MsgApp':
      heardFromLeader(r, m);
      handleAppendEntries(r, m);
      return;
    case 'MsgHeartbeat':
      heardFromLeader(r, m);
      handleHeartbeat(r, m);
      return;
    case 'MsgSnap':
      heardFromLeader(r, m);
      handleSnapshot(r, m);
      return;
    case 'MsgTransferLeader':
      if (r.lead !== null) r.forward(m, r.lead);
      return;
    case 'MsgTimeoutNow':
      // The leader hands over: campaign at once, without pre-vote and past the leader lease.
      r.hup('transfer');
      return;
    case 'MsgReadIndex':
      if (r.lead === null) {
        if (m.from === r.id) dropProposal('no leader is known yet; retry after the election');
        return;
      }
      r.forward(m, r.lead);
      return;
    case 'MsgReadIndexResp':
      r.readStates.push({ index: m.index, requestContext: m.context ?? new Uint8Array(0) });
      return;
    default:
      return;
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  const myResponse = r.role === 'pre-candidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
  switch (m.type) {
    case 'MsgProp':
      dropProposal('an election is in progress; retry once a leader is elected');
      return;
    case 'MsgReadIndex':
      if (m.from === r.id) dropProposal('an election is in progress; retry once a leader is elected');
      return;
    case 'MsgApp':
    case 'MsgHeartbeat':
    case 'MsgSnap':
      // A leader of our term exists: it won the election we were running.
      r.becomeFollower(m.term, m.from);
      stepFollower(r, m);
      return;
    case 'MsgPreVoteResp':
    case 'MsgVoteResp': {
      if (m.type !== myResponse) return;
      const result = r.poll(m.from, !m.reject);
      if (result === 'won') {
        if (r.role === 'pre-candidate') {
          r.campaign('election');
        } else {
          r.becomeLeader();
          bcastAppend(r);
        }
      } else if (result === 'lost') {
        // A pre-candidate's term never moved; a rejected candidate keeps its higher term.
        r.becomeFollower(r.term, null);
      }
      return;
    }
    default:
      return;
  }
}

function heardFromLeader(r: Raft, m: Message): void {
  r.electionElapsed = 0;
  r.lead = m.from;
}

function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.log.committed) {
    // Everything up to our commit index is already settled; tell the leader where we are.
    r.send({ type: 'MsgAppResp', to: m.from, index: r.log.committed });
    return;
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew >= 0) {
    r.send({ type: 'MsgAppResp', to: m.from, index: lastNew });
    return;
  }
  // Our log does not contain (m.index, m.logTerm). Hint the largest index that may match: the
  // last one at or below m.index whose term is <= m.logTerm, so the leader skips a whole term.
  const [hintIndex, hintTerm] = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
  r.send({ type: 'MsgAppResp', to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm });
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(m.commit);
  r.send({ type: 'MsgHeartbeatResp', to: m.from, context: m.context });
}

function handleSnapshot(r: Raft, m: Message): void {
  if (m.snapshot === null) return;
  const index = r.restore(m.snapshot) ? r.log.lastIndex() : r.log.committed;
  r.send({ type: 'MsgAppResp', to: m.from, index });
}
