import type { ConfState, Entry, NodeId, Snapshot } from '../types.js';
import { EntryType } from '../types.js';
import { type ConfChange, encodeConfChange, LEAVE_JOINT } from './conf-change.js';
import { applyConfChangeToConfig, configFromConfState, configToConfState, type TrackerConfig } from './conf-changer.js';
import { type RaftConfig, type ResolvedRaftConfig, resolveConfig } from './config.js';
import { invariant, isRaftError } from './errors.js';
import { stepCandidate, stepFollower } from './follower.js';
import { releasePendingReadIndexMessages, stepLeader } from './leader.js';
import { entriesSize, type Message, newMessage } from './messages.js';
import { Progress } from './progress.js';
import { ProgressTracker } from './progress-tracker.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import type { ReadState, Role } from './ready.js';
import { bcastAppend, maybeSendAppend } from './replication.js';

export type CampaignType = 'pre-election' | 'election' | 'transfer';

const EMPTY = new Uint8Array(0);

/** Message fields a sender fills in; `from` is always this node. */
export type OutgoingMessage = Partial<Message> & Pick<Message, 'type' | 'to'>;

/**
 * The Raft state machine of one node: roles, terms, votes, the log and (on the leader) the
 * progress of every follower. Pure and synchronous: inputs are tick() and step(); outputs are
 * accumulated in `msgs`, `readStates` and the log's unstable part, which RawNode turns into a
 * Ready. Role-specific message handling lives in leader.ts and follower.ts; sending entries in
 * replication.ts.
 *
 * Fields are public for those modules and for inspection by tests; applications use RawNode.
 *
 * Invariants: a node votes at most once per term (vote is reset only when term increases);
 * term never decreases; there is at most one leader per term (checked by the simulator).
 */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  term = 0;
  vote: NodeId | null = null;
  lead: NodeId | null = null;
  role: Role = 'follower';
  isLearner = false;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  readOnly: ReadOnly;
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Leader: the node leadership is being transferred to. */
  leadTransferee: NodeId | null = null;
  /** Leader: index of the last conf change proposed; a new one is refused until it is applied. */
  pendingConfIndex = 0;
  /** Leader: payload bytes of entries appended but not yet handed out as committed. */
  uncommittedSize = 0;
  /** Leader: ReadIndex requests held until an entry of the current term is committed. */
  pendingReadIndexMessages: Message[] = [];
  /** Leader: proposals were appended since the last broadcast (see flushAppends). */
  appendsPending = false;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.log = new RaftLog(this.cfg.storage, this.cfg.maxCommittedSizePerReady);
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    const { hardState, confState } = this.cfg.storage.initialState();
    this.setConfig(configFromConfState(confState));
    if (hardState.term !== 0 || hardState.vote !== null || hardState.commit !== 0) {
      invariant(
        hardState.commit >= this.log.committed && hardState.commit <= this.log.lastIndex(),
        () => `hard state commit ${hardState.commit} outside [${this.log.committed}, ${this.log.lastIndex()}]`,
      );
      this.log.committed = hardState.commit;
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    if (this.cfg.applied > this.log.applied) this.log.appliedTo(this.cfg.applied);
    this.becomeFollower(this.term, null);
  }

  // ---- sending ----

  /** Queues a message from this node. Vote messages and their responses must carry an explicit term. */
  send(fields: OutgoingMessage): void {
    invariant(fields.to !== this.id, () => `${this.id} sending ${fields.type} to itself`);
    let term = fields.term;
    switch (fields.type) {
      case 'MsgVote':
      case 'MsgVoteResp':
      case 'MsgPreVote':
      case 'MsgPreVoteResp':
        invariant(term !== undefined && term > 0, () => `${fields.type} needs an explicit term`);
        break;
      default:
        invariant(term === undefined, () => `${fields.type} must not set a term`);
        term = this.term;
    }
    this.msgs.push(newMessage(fields, this.id, term));
  }

  /** Forwards a term-0 message (MsgProp, MsgReadIndex, MsgTransferLeader) unchanged to `to`. */
  forward(m: Message, to: NodeId): void {
    this.msgs.push({ ...m, to });
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      invariant(term > this.term, () => `term going backwards: ${this.term} -> ${term}`);
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTick + Math.floor(this.cfg.random() * this.cfg.electionTick);
    this.leadTransferee = null;
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, old] of this.trk.progress) {
      const pr = new Progress(last + 1, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes, old.isLearner);
      if (id === this.id) pr.match = last;
      this.trk.progress.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  becomePreCandidate(): void {
    invariant(this.role !== 'leader', 'invalid transition leader -> pre-candidate');
    // A pre-candidate keeps its term and vote: it only asks whether it could win.
    this.trk.resetVotes();
    this.lead = null;
    this.role = 'pre-candidate';
  }

  becomeCandidate(): void {
    invariant(this.role !== 'leader', 'invalid transition leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    invariant(this.role === 'candidate', () => `invalid transition ${this.role} -> leader`);
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Conservatively treat every entry we have as a possible pending conf change (§ one at a time).
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op of the new term: committing it commits every earlier entry (§5.4.2).
    const ok = this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }]);
    invariant(ok, 'the empty entry of a new leader was refused');
  }

  /** Leader: sends the entries proposed since the last Ready to every follower. */
  flushAppends(): void {
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.role === 'leader') bcastAppend(this);
  }

  // ---- time ----

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: 'MsgHup', from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(newMessage({ type: 'MsgCheckQuorum', from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === 'leader' && this.leadTransferee !== null) this.leadTransferee = null;
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: 'MsgBeat', from: this.id }));
    }
  }

  // ---- elections ----

  /** A node may campaign if it is a voter and no snapshot is waiting to be persisted. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.log.hasPendingSnapshot();
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    if (lo > this.log.committed) return false;
    for (const e of this.log.slice(lo, this.log.committed + 1, Number.POSITIVE_INFINITY)) {
      if (e.type === EntryType.ConfChange) return true;
    }
    return false;
  }

  hup(t: CampaignType): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    // A committed conf change not yet applied could change who may vote: wait for it.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(t);
  }

  campaign(t: CampaignType): void {
    let voteType: 'MsgVote' | 'MsgPreVote';
    let term: number;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteType = 'MsgPreVote';
      term = this.term + 1; // the term we would campaign for; ours does not change yet
    } else {
      this.becomeCandidate();
      voteType = 'MsgVote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter configuration wins at once.
      if (t === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.trk.voterIds()) {
      if (id === this.id) continue;
      this.send({ type: voteType, to: id, term, index, logTerm, leaderTransfer: t === 'transfer' });
    }
  }

  poll(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---- the one entry point for messages ----

  step(m: Message): void {
    if (m.term === 0) {
      // local message, or a forwarded MsgProp/MsgReadIndex/MsgTransferLeader
    } else if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        // Check-quorum lease: a node that heard from a live leader within the election timeout
        // ignores vote requests (unless the leader itself asked for the election).
        const inLease = this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTick;
        if (inLease && !m.leaderTransfer) return;
      }
      if (m.type === 'MsgPreVote') {
        // Never change the term for a pre-vote request.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // Granted pre-votes carry the future term; we bump it only when we win.
      } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if (m.type === 'MsgHeartbeat' || m.type === 'MsgApp') {
        // Tell a stale leader our term (Raft §5.1: a stale-term request is rejected with the current
        // term), so it steps down. Without this it may never learn it: when our elections do not
        // bump terms on it (pre-vote), when it ignores us (lease), or when our configuration is so
        // old that our vote requests never reach it, so it never catches us up (seed 3859).
        this.send({ type: 'MsgAppResp', to: m.from });
      } else if (m.type === 'MsgPreVote') {
        this.send({ type: 'MsgPreVoteResp', to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'MsgHup':
        this.hup(this.cfg.preVote ? 'pre-election' : 'election');
        return;
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(m);
        return;
      default:
        if (this.role === 'leader') stepLeader(this, m);
        else if (this.role === 'follower') stepFollower(this, m);
        else stepCandidate(this, m);
    }
  }

  private handleVoteRequest(m: Message): void {
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === 'MsgPreVote' && m.term > this.term);
    const upToDate = this.cfg.unsafeTestingHooks.skipVoteLogCheck === true || this.log.isUpToDate(m.index, m.logTerm);
    if (canVote && upToDate) {
      // Respond with the request's term: a pre-candidate counts responses for its future term.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  // ---- log ----

  /** Leader: appends entries in the current term. False if refused (maxUncommittedEntriesSize). */
  appendEntries(es: readonly Entry[]): boolean {
    const li = this.log.lastIndex();
    const ents = es.map((e, i): Entry => ({ term: this.term, index: li + 1 + i, type: e.type, data: e.data }));
    const size = entriesSize(ents);
    const max = this.cfg.maxUncommittedEntriesSize;
    // An empty entry is always accepted; so is anything when nothing is uncommitted.
    if (max > 0 && size > 0 && this.uncommittedSize > 0 && this.uncommittedSize + size > max) return false;
    this.uncommittedSize += size;
    this.log.append(ents);
    // The leader's own progress advances when the entries are durable (RawNode.advance).
    return true;
  }

  reduceUncommittedSize(ents: readonly Entry[]): void {
    this.uncommittedSize = Math.max(0, this.uncommittedSize - entriesSize(ents));
  }

  /** Leader: advances the commit index to what a quorum has; true if it moved. */
  maybeCommit(): boolean {
    const mci = this.trk.committed();
    if (!Number.isFinite(mci)) return false;
    if (this.cfg.unsafeTestingHooks.commitEntriesFromPreviousTerms === true) {
      const to = Math.min(mci, this.log.lastIndex());
      if (to <= this.log.committed) return false;
      this.log.commitTo(to);
      return true;
    }
    // Only entries of the current term are committed by counting replicas (§5.4.2).
    return this.log.maybeCommit(mci, this.term);
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.termOrNull(this.log.committed) === this.term;
  }

  /** Entries up to (index, term) are durable. The leader counts itself only from here on. */
  onStable(index: number, term: number): void {
    this.log.stableTo(index, term);
    if (this.role !== 'leader' || !this.log.matchTerm(index, term)) return;
    const self = this.trk.progress.get(this.id);
    if (self?.maybeUpdate(index) && this.maybeCommit()) {
      releasePendingReadIndexMessages(this);
      bcastAppend(this);
    }
  }

  /** The application applied entries up to `index`. */
  appliedTo(index: number): void {
    this.log.appliedTo(index);
    if (this.trk.config.autoLeave && index >= this.pendingConfIndex && this.role === 'leader') {
      // The joint config was entered with autoLeave and is applied: leave it.
      const entry: Entry = { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(LEAVE_JOINT) };
      try {
        this.step(newMessage({ type: 'MsgProp', from: this.id, entries: [entry] }));
      } catch (err) {
        // Dropped (e.g. a leader transfer is in progress): retried at the next apply.
        if (!isRaftError(err, 'proposal-dropped')) throw err;
      }
    }
  }

  // ---- snapshots and membership ----

  /** Follower: installs a snapshot from the leader. False when it is stale or unusable. */
  restore(s: Snapshot): boolean {
    const md = s.metadata;
    if (md.index <= this.log.committed) return false;
    // Committed entries not yet applied (e.g. handed out in a Ready the application is still
    // applying) must be applied first: their configuration changes would otherwise be applied on
    // top of the snapshot's configuration, which already contains them. The leader retries.
    if (this.log.applied < this.log.committed) return false;
    invariant(this.role === 'follower', () => `restoring a snapshot as ${this.role}`);
    const cs = md.confState;
    const member = [cs.voters, cs.learners, cs.votersOutgoing].some((ids) => ids.includes(this.id));
    if (!member) return false; // a snapshot from before we were added: wait for a newer one
    if (this.log.matchTerm(md.index, md.term)) {
      // We already have the snapshot's last entry: just move the commit index.
      this.log.commitTo(md.index);
      return false;
    }
    this.log.restore(s);
    this.trk.progress.clear();
    this.setConfig(configFromConfState(cs));
    return true;
  }

  private setConfig(cfg: TrackerConfig): void {
    this.trk.setConfig(cfg, this.log.lastIndex() + 1);
    this.isLearner = this.trk.progress.get(this.id)?.isLearner ?? false;
  }

  /** Applies a committed conf change (called by the application when it applies the entry). */
  applyConfChange(cc: ConfChange): ConfState {
    const cfg = applyConfChangeToConfig(this.trk.config, cc);
    this.setConfig(cfg);
    const cs = configToConfState(cfg);
    if (this.role !== 'leader') return cs;
    const self = this.trk.progress.get(this.id);
    if (self === undefined || self.isLearner) {
      // Removed or demoted: step down so that a voter of the new config takes over.
      this.becomeFollower(this.term, null);
      return cs;
    }
    // The quorum may have changed: maybe commit, and probe new members.
    if (this.maybeCommit()) {
      releasePendingReadIndexMessages(this);
      bcastAppend(this);
    } else {
      for (const id of this.trk.progress.keys()) if (id !== this.id) maybeSendAppend(this, id, false);
    }
    if (this.leadTransferee !== null && !this.trk.isVoter(this.leadTransferee)) this.leadTransferee = null;
    return cs;
  }
}
