import type { NodeId } from '../types.js';
import { EntryType } from '../types.js';
import { decodeConfChange, isLeaveJoint } from './conf-change.js';
import { isJoint } from './conf-changer.js';
import { dropProposal } from './errors.js';
import type { Message } from './messages.js';
import { jointVoteResult } from './quorum.js';
import type { Raft } from './raft.js';
import { bcastAppend, bcastHeartbeat, maybeSendAppend } from './replication.js';

/**
 * Message handling in the leader role. Called by Raft.step after the term checks, so every
 * message here has term 0 (local/forwarded) or the leader's own term.
 */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case 'MsgBeat':
      bcastHeartbeat(r);
      return;
    case 'MsgCheckQuorum':
      checkQuorum(r);
      return;
    case 'MsgProp':
      propose(r, m);
      return;
    case 'MsgReadIndex':
      readIndex(r, m);
      return;
    case 'MsgTransferLeader':
      transferLeader(r, m.from);
      return;
  }
  // Everything else is a follower's response: it must come from a member.
  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) return;
  switch (m.type) {
    case 'MsgAppResp':
      appendResponse(r, m);
      return;
    case 'MsgHeartbeatResp':
      heartbeatResponse(r, m);
      return;
    case 'MsgSnapStatus':
      if (pr.state !== 'snapshot') return;
      // Success or failure, probe from after the snapshot (or from match on failure); wait for
      // the next heartbeat response before probing, so a failed send is not retried in a loop.
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      pr.msgAppFlowPaused = true;
      return;
    case 'MsgUnreachable':
      // Optimistic streaming assumed delivery; go back to probing.
      if (pr.state === 'replicate') pr.becomeProbe();
      return;
    default:
      return;
  }
}

function checkQuorum(r: Raft): void {
  if (!r.trk.quorumActive()) {
    // Partitioned from the majority: stop pretending to lead (clients retry elsewhere).
    r.becomeFollower(r.term, null);
  }
  for (const [id, pr] of r.trk.progress) pr.recentActive = id === r.id;
}

function propose(r: Raft, m: Message): void {
  if (m.entries.length === 0) dropProposal('empty proposal');
  if (!r.trk.progress.has(r.id)) dropProposal('this node was removed from the cluster');
  if (r.leadTransferee !== null) dropProposal(`leadership is being transferred to ${r.leadTransferee}`);
  // One configuration change at a time, effective on apply: refuse a second while one is
  // unapplied, a new joint change while in a joint config, and leaving a non-joint config.
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    if (e.type !== EntryType.ConfChange) continue;
    const cc = decodeConfChange(e.data);
    const joint = isJoint(r.trk.config);
    if (r.pendingConfIndex > r.log.applied) dropProposal('another configuration change is still being applied');
    if (joint && !isLeaveJoint(cc)) dropProposal('the configuration is joint: leave it before changing it again');
    if (!joint && isLeaveJoint(cc)) dropProposal('the configuration is not joint: there is nothing to leave');
    r.pendingConfIndex = r.log.lastIndex() + i + 1;
  }
  if (!r.appendEntries(m.entries)) dropProposal('too many uncommitted bytes; retry when the followers catch up');
  // Sent when the next Ready is built (RawNode.ready → flushAppends): every proposal taken in
  // before then travels in one MsgApp per follower instead of one each.
  r.appendsPending = true;
}

function readIndex(r: Raft, m: Message): void {
  if (r.trk.isSingleton()) {
    respondToReadIndex(r, m, r.log.committed);
    return;
  }
  // Until an entry of this term commits, the leader's commit index may be behind the cluster's.
  if (!r.committedEntryInCurrentTerm()) {
    r.pendingReadIndexMessages.push(m);
    return;
  }
  serveReadIndex(r, m);
}

function serveReadIndex(r: Raft, m: Message): void {
  const index = r.log.committed;
  if (r.readOnly.option === 'lease') {
    respondToReadIndex(r, m, index);
    return;
  }
  const ctx = m.context ?? new Uint8Array(0);
  r.readOnly.addRequest(index, m);
  // The leader acknowledges itself; a quorum of heartbeat acks proves it still leads.
  r.readOnly.recvAck(r.id, ctx);
  bcastHeartbeat(r, ctx);
}

function respondToReadIndex(r: Raft, req: Message, index: number): void {
  const ctx = req.context ?? new Uint8Array(0);
  if (req.from === r.id || req.from === '') r.readStates.push({ index, requestContext: ctx });
  else r.send({ type: 'MsgReadIndexResp', to: req.from, index, context: ctx });
}

/** Serves the ReadIndex requests that waited for the first commit of this term. */
export function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0 || !r.committedEntryInCurrentTerm()) return;
  const pending = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of pending) serveReadIndex(r, m);
}

function appendResponse(r: Raft, m: Message): void {
  const pr = r.trk.progress.get(m.from)!;
  pr.recentActive = true;
  if (m.reject) {
    // Fast back-off: the follower's hint, refined by our own log when it names a term.
    let hint = m.rejectHint;
    if (m.logTerm > 0) hint = r.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      maybeSendAppend(r, m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  // An ack of exactly `match` in probe state still proves where the logs match.
  const updated = pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe');
  if (!updated) return;
  if (pr.state === 'probe') {
    pr.becomeReplicate();
  } else if (pr.state === 'snapshot' && pr.match + 1 >= r.log.firstIndex()) {
    // The follower caught up past the snapshot (or from the log): stream again.
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') {
    pr.inflights.freeLE(m.index);
  }
  if (r.maybeCommit()) {
    releasePendingReadIndexMessages(r);
    bcastAppend(r);
  } else if (wasPaused) {
    maybeSendAppend(r, m.from, true);
  }
  // Fill the pipeline to this follower.
  while (maybeSendAppend(r, m.from, false)) {}
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

function heartbeatResponse(r: Raft, m: Message): void {
  const pr = r.trk.progress.get(m.from)!;
  pr.recentActive = true;
  pr.msgAppFlowPaused = false;
  if (pr.match < r.log.lastIndex() || pr.state === 'probe') maybeSendAppend(r, m.from, true);
  if (r.readOnly.option !== 'safe' || m.context === null || m.context.byteLength === 0) return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (acks === null) return;
  if (jointVoteResult(r.trk.config.voters, (id) => (acks.has(id) ? true : undefined)) !== 'won') return;
  for (const rs of r.readOnly.advance(m.context)) respondToReadIndex(r, rs.req, rs.index);
}

function transferLeader(r: Raft, transferee: NodeId): void {
  const pr = r.trk.progress.get(transferee);
  if (pr === undefined || pr.isLearner) return;
  if (r.leadTransferee !== null) {
    if (r.leadTransferee === transferee) return;
    r.leadTransferee = null; // abort the earlier transfer in favour of this one
  }
  if (transferee === r.id) return;
  // The transfer must finish within an election timeout (checked in tickHeartbeat).
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, transferee);
  else maybeSendAppend(r, transferee, true);
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send({ type: 'MsgTimeoutNow', to });
}
