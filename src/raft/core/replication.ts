import type { Entry, NodeId } from '../types.js';
import { invariant, isRaftError } from './errors.js';
import { entriesSize } from './messages.js';
import type { Raft } from './raft.js';

/**
 * Leader → follower traffic: appends, snapshots and heartbeats. Pure functions over a Raft that
 * queue messages in `r.msgs` and do the per-follower progress bookkeeping.
 */

/**
 * Sends `to` the entries it needs next (or a snapshot when they were compacted), respecting the
 * follower's flow control. With `sendIfEmpty`, an empty MsgApp still goes out (it carries the
 * commit index and probes the follower's log). Returns whether a message was queued.
 */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.trk.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.termOrNull(prevIndex);
  let ents: Entry[] = [];
  let compacted = prevTerm === null;
  // A throttled follower (replicate state, inflights full) gets an empty MsgApp only: a heartbeat
  // response unpauses it so that, if every message in flight was lost, the empty append's ack or
  // rejection frees the buffer; adding entries to a full buffer is an invariant violation.
  const throttled = pr.state === 'replicate' && pr.inflights.full();
  if (!compacted && !throttled && pr.next <= r.log.lastIndex()) {
    try {
      ents = r.log.entries(pr.next, r.cfg.maxSizePerMsg);
    } catch (err) {
      if (!isRaftError(err, 'compacted')) throw err;
      compacted = true;
    }
  }
  if (compacted) return sendSnapshot(r, to);
  if (ents.length === 0 && !sendIfEmpty) return false;
  r.send({ type: 'MsgApp', to, index: prevIndex, logTerm: prevTerm!, entries: ents, commit: r.log.committed });
  pr.sentEntries(ents.length, entriesSize(ents));
  return true;
}

function sendSnapshot(r: Raft, to: NodeId): boolean {
  const pr = r.trk.progress.get(to)!;
  // A follower we have not heard from lately may be down: do not ship it a whole snapshot.
  if (!pr.recentActive) return false;
  let snapshot: ReturnType<Raft['log']['snapshot']>;
  try {
    snapshot = r.log.snapshot();
  } catch (err) {
    // The application is building one: retried at the next heartbeat response.
    if (isRaftError(err, 'snapshot-temporarily-unavailable')) return false;
    throw err;
  }
  invariant(snapshot.metadata.index > 0, () => `need a snapshot to send ${to} compacted entries, but there is none`);
  pr.becomeSnapshot(snapshot.metadata.index);
  r.send({ type: 'MsgSnap', to, snapshot });
  return true;
}

/** An empty-or-not MsgApp to every other member (after a commit advance or a new proposal). */
export function bcastAppend(r: Raft): void {
  for (const id of r.trk.progress.keys()) if (id !== r.id) maybeSendAppend(r, id, true);
}

/**
 * Heartbeats carry a commit index no higher than what the follower is known to have, so a
 * follower never learns a commit index past its own log.
 */
export function sendHeartbeat(r: Raft, to: NodeId, context: Uint8Array | null): void {
  const pr = r.trk.progress.get(to)!;
  const commit = Math.min(pr.match, r.log.committed);
  r.send({ type: 'MsgHeartbeat', to, commit, context });
}

export function bcastHeartbeat(r: Raft, context: Uint8Array | null = r.readOnly.lastPendingRequestContext()): void {
  for (const id of r.trk.progress.keys()) if (id !== r.id) sendHeartbeat(r, id, context);
}
