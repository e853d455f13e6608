import type { ConfState, Entry, HardState, NodeId } from '../types.js';
import { EntryType } from '../types.js';
import { type ConfChange, encodeConfChange } from './conf-change.js';
import { configToConfState } from './conf-changer.js';
import type { RaftConfig } from './config.js';
import { invariant, isRaftError, raftError } from './errors.js';
import { isLocalMessage, isResponseMessage, type Message, newMessage } from './messages.js';
import { Raft } from './raft.js';
import type { ProgressStatus, Ready, SoftState, Status } from './ready.js';

/** What one Ready handed out, so that advance() can acknowledge exactly that. */
interface Handed {
  readonly lastEntry: Entry | null;
  readonly snapshotIndex: number;
  readonly committed: readonly Entry[];
}

/**
 * The application's handle on one Raft member: feed it ticks, messages and proposals; drain
 * Readys; call advance() after handling each. Pure and synchronous like the Raft it wraps (no
 * timers, I/O or clocks): the driver (../driver.ts) and the simulator supply time and I/O.
 *
 * Invariant: at most one Ready is outstanding (ready() → advance()).
 */
export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private handed: Handed | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first if configured). */
  campaign(): void {
    this.raft.step(newMessage({ type: 'MsgHup', from: this.raft.id }));
  }

  /** A message from a peer. Local-only types and responses from non-members are refused. */
  step(m: Message): void {
    if (isLocalMessage(m.type)) {
      throw raftError('step-local-message', `${m.type} may only be generated locally, not received`);
    }
    if (isResponseMessage(m.type) && !this.raft.trk.progress.has(m.from)) {
      throw raftError('step-peer-not-found', `${m.type} from ${m.from}, which is not a member`);
    }
    try {
      this.raft.step(m);
    } catch (err) {
      // A proposal forwarded by a peer that this node cannot place (no leader known any more,
      // leadership moving, too many uncommitted bytes) is dropped like a lost message: the
      // proposer's client times out and retries. Throwing would hand a peer's message back to
      // the transport as an error.
      if (!isRaftError(err, 'proposal-dropped')) throw err;
    }
  }

  /** Proposes data for the log. Throws a 'proposal-dropped' raft error when refused. */
  propose(data: Uint8Array): void {
    this.proposeEntry({ term: 0, index: 0, type: EntryType.Normal, data });
  }

  /**
   * Proposes several payloads as one batch: appended together, sent to each follower (or
   * forwarded to the leader) in one message. All or none: a refusal throws 'proposal-dropped'.
   */
  proposeBatch(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    const entries = data.map((d): Entry => ({ term: 0, index: 0, type: EntryType.Normal, data: d }));
    this.raft.step(newMessage({ type: 'MsgProp', from: this.raft.id, entries }));
  }

  /** Proposes a membership change; it takes effect when applied (see applyConfChange). */
  proposeConfChange(cc: ConfChange): void {
    this.proposeEntry({ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) });
  }

  private proposeEntry(e: Entry): void {
    this.raft.step(newMessage({ type: 'MsgProp', from: this.raft.id, entries: [e] }));
  }

  /** Applies a committed ConfChange entry's change; returns the configuration now in force. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Asks for a linearizable read point; it arrives as a ReadState carrying `context`. */
  readIndex(context: Uint8Array): void {
    this.raft.step(newMessage({ type: 'MsgReadIndex', from: this.raft.id, context }));
  }

  /** Asks the leader to hand leadership to `to` (ignored if `to` is not a voter). */
  transferLeadership(to: NodeId): void {
    this.raft.step(newMessage({ type: 'MsgTransferLeader', from: to }));
  }

  /** The transport could not deliver to `id`: the leader stops streaming optimistically to it. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage({ type: 'MsgUnreachable', from: id }));
  }

  /** The outcome of sending `id` a snapshot (from a MsgSnap in a Ready). */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(newMessage({ type: 'MsgSnapStatus', from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    if (this.handed !== null) return false;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    const soft = this.softState();
    if (soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role) return true;
    if (!sameHardState(this.hardState(), this.prevHard)) return true;
    if (r.log.unstable.snapshot !== null || r.log.unstable.entries.length > 0) return true;
    return r.log.hasNextCommittedEntries();
  }

  /**
   * What to persist, send and apply now (see Ready for the order). Messages produced after this
   * call may depend on entries of this Ready, so the next Ready comes only after advance().
   */
  ready(): Ready {
    const r = this.raft;
    invariant(this.handed === null, 'ready() called again before advance()');
    r.flushAppends();
    const messages = r.msgs;
    const readStates = r.readStates;
    r.msgs = [];
    r.readStates = [];
    const soft = this.softState();
    const hard = this.hardState();
    const softChanged = soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role;
    const hardChanged = !sameHardState(hard, this.prevHard);
    const entries = r.log.unstable.entries.slice();
    const snapshot = r.log.unstable.snapshot;
    const committedEntries = r.log.nextCommittedEntries();
    const mustSync =
      entries.length > 0 || snapshot !== null || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
    if (softChanged) this.prevSoft = soft;
    if (hardChanged) this.prevHard = hard;
    this.handed = {
      lastEntry: entries.length > 0 ? entries[entries.length - 1]! : null,
      snapshotIndex: snapshot?.metadata.index ?? 0,
      committed: committedEntries,
    };
    return {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      readStates,
      entries,
      snapshot,
      committedEntries,
      messages,
      mustSync,
    };
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const h = this.handed;
    invariant(h !== null, 'advance() without an outstanding ready()');
    this.handed = null;
    const r = this.raft;
    if (h.snapshotIndex > 0) {
      r.log.stableSnapTo(h.snapshotIndex);
      if (h.snapshotIndex > r.log.applied) r.log.appliedTo(h.snapshotIndex);
    }
    if (h.lastEntry !== null) r.onStable(h.lastEntry.index, h.lastEntry.term);
    if (h.committed.length > 0) {
      r.reduceUncommittedSize(h.committed);
      r.appliedTo(h.committed[h.committed.length - 1]!.index);
    }
  }

  status(): Status {
    const r = this.raft;
    let progress: Record<NodeId, ProgressStatus> | null = null;
    if (r.role === 'leader') {
      progress = {};
      for (const [id, pr] of r.trk.progress) {
        progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count,
        };
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      commitTerm: r.log.termOrNull(r.log.committed) ?? 0,
      applied: r.log.applied,
      lead: r.lead,
      role: r.role,
      leadTransferee: r.leadTransferee,
      progress,
      config: configToConfState(r.trk.config),
    };
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
