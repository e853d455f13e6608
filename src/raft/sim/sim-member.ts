import type { Prng } from '../../base/random.js';
import { decodeConfChange } from '../core/conf-change.js';
import type { UnsafeTestingHooks } from '../core/config.js';
import { isRaftError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import { RawNode } from '../core/raw-node.js';
import type { Ready, Role } from '../core/ready.js';
import type { ConfState, Entry, NodeId } from '../types.js';
import { EntryType } from '../types.js';
import { type SafetyChecker, Violation } from './safety-checker.js';
import { SimDisk } from './sim-disk.js';
import { type ApplicationFactory, type AppliedProposal, SimStateMachine } from './sim-state-machine.js';

/** The raft settings every member of one simulated cluster shares. */
export interface MemberSettings {
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Max payload bytes per MsgApp (0: one entry per message, so followers acknowledge entry by entry). */
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly unsafeTestingHooks?: UnsafeTestingHooks;
  /** Snapshot the state machine once this many entries were applied since the last snapshot. */
  readonly snapshotEvery: number;
  /** After a snapshot, keep this many entries below it in the log (so lagging peers sometimes get entries, sometimes MsgSnap). */
  readonly keepAfterSnapshot: number;
}

/** What a member needs from its cluster. */
export interface MemberEnv {
  readonly checker: SafetyChecker;
  send(m: Message): void;
  /** A ConfChange entry was applied on this member. */
  confChangeApplied(by: NodeId, e: Entry): void;
  /** A proposal (an entry with a proposal envelope) was applied on this member, in this incarnation. */
  proposalApplied(by: NodeId, incarnation: number, applied: AppliedProposal, e: Entry): void;
  /** The application each start of the member runs; null: the hash chain alone. */
  readonly application: ApplicationFactory | null;
  note(id: NodeId, code: number, describe: () => string): void;
}

/**
 * The stages of handling one Ready, in the order core/ready.ts prescribes. A member moves
 * through at most a few of them per simulated step, so a crash can strike between any two
 * (after the write but before the fsync, after the fsync but before sending, ...), and ticks
 * and messages arrive while a Ready is outstanding, as they do in a real driver.
 */
const STAGES = ['persist', 'sync', 'send', 'apply', 'advance'] as const;
type Stage = (typeof STAGES)[number];

const EMPTY_CONF: ConfState = { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };

/**
 * One simulated member: a RawNode, its SimDisk and its SimStateMachine (which hosts the
 * cluster's application, if any). `node` is null while the member is crashed; the disk survives
 * crashes. A decommissioned member (removed from the configuration) is stopped for good.
 */
export class SimMember {
  node: RawNode | null = null;
  readonly disk = new SimDisk();
  sm: SimStateMachine;
  incarnation = 0;
  decommissioned = false;
  /** The configuration this member has applied, and the one before it. */
  confState: ConfState = EMPTY_CONF;
  prevConfState: ConfState = EMPTY_CONF;
  role: Role = 'follower';
  private pending: { rd: Ready; stage: Stage } | null = null;
  private lastAnnouncedCommit = 0;
  /** Term and commit index as of the last Ready taken; the term this member led in then (0: not leader). */
  private term = 0;
  private commitSeen = 0;
  private leaderOfTerm = 0;
  private lastSnapshotIndex = 0;
  private lastCompactIndex = 0;
  stats = { snapshotsTaken: 0, snapshotsRestored: 0, lostWrites: 0 };

  constructor(
    readonly id: NodeId,
    private readonly settings: MemberSettings,
    private readonly env: MemberEnv,
  ) {
    this.sm = this.newStateMachine();
  }

  private newStateMachine(): SimStateMachine {
    return new SimStateMachine(this.env.application?.(this.id) ?? null);
  }

  get alive(): boolean {
    return this.node !== null;
  }

  /** Starts (or restarts) the core from the durable disk; `rng` becomes the core's randomness. */
  start(rng: Prng): void {
    const storage = this.disk.restart();
    this.sm = this.newStateMachine();
    const snap = this.disk.durableSnapshot;
    if (snap !== null) {
      this.sm.restore(snap);
      this.env.checker.applied(this.id, this.sm.applied, this.sm.hash, 'restarted from its snapshot at');
    }
    this.confState = this.prevConfState = storage.initialState().confState;
    this.lastSnapshotIndex = this.sm.applied;
    this.lastCompactIndex = storage.firstIndex() - 1;
    this.lastAnnouncedCommit = 0;
    this.term = storage.initialState().hardState.term;
    this.commitSeen = storage.initialState().hardState.commit;
    this.leaderOfTerm = 0;
    this.pending = null;
    this.role = 'follower';
    this.incarnation++;
    const s = this.settings;
    this.node = new RawNode({
      id: this.id,
      storage,
      electionTick: s.electionTick,
      heartbeatTick: s.heartbeatTick,
      random: () => rng.next(),
      applied: this.sm.applied,
      preVote: s.preVote,
      checkQuorum: s.checkQuorum,
      maxSizePerMsg: s.maxSizePerMsg,
      maxInflightMsgs: s.maxInflightMsgs,
      ...(s.unsafeTestingHooks ? { unsafeTestingHooks: s.unsafeTestingHooks } : {}),
    });
  }

  /** Power loss: the core and everything not yet synced is gone. */
  crash(rng: Prng): void {
    this.node = null;
    this.pending = null;
    this.stats.lostWrites += this.disk.crash(rng);
  }

  /** Delivers a message from a peer. Messages the core refuses (unknown peer) are dropped, as a driver does. */
  deliver(m: Message): void {
    if (this.node === null) return;
    try {
      this.node.step(m);
    } catch (err) {
      if (isRaftError(err, 'step-peer-not-found')) return;
      throw err;
    }
  }

  /**
   * Moves the Ready pipeline forward by up to `budget` stages (taking a new Ready when idle).
   * Returns the number of stages done.
   */
  work(budget: number): number {
    let done = 0;
    while (done < budget && this.node !== null) {
      if (this.pending === null) {
        if (!this.node.hasReady()) break;
        this.take(this.node.ready());
      }
      this.runStage(this.pending!);
      done++;
    }
    return done;
  }

  /** True when a Ready is half handled (a crash now loses something interesting). */
  get busy(): boolean {
    return this.pending !== null;
  }

  private take(rd: Ready): void {
    const checker = this.env.checker;
    if (rd.softState !== null) this.role = rd.softState.role;
    for (const e of rd.committedEntries) checker.committed(this.id, e);
    const term = rd.hardState?.term ?? this.term;
    const commit = rd.hardState?.commit ?? this.commitSeen;
    if (this.role === 'leader' && this.leaderOfTerm === term && commit > this.commitSeen) {
      // Raft §5.4.2: a leader moves its commit index only onto an entry of its own term (earlier
      // entries are committed with it). Checked only while it stays leader of one term: a commit
      // learned as a follower just before the election does not count.
      const t = checker.termOfCommitted(commit);
      if (t !== undefined && t !== term) {
        throw new Violation(
          'current-term commit rule',
          `${this.id}, leader of term ${term}, advanced its commit index to ${commit}, an entry of term ${t}`,
        );
      }
    }
    this.term = term;
    this.commitSeen = commit;
    this.leaderOfTerm = this.role === 'leader' ? term : 0;
    if (this.role === 'leader' && rd.hardState !== null && rd.hardState.commit > this.lastAnnouncedCommit) {
      this.lastAnnouncedCommit = rd.hardState.commit;
      const term = checker.termOfCommitted(rd.hardState.commit);
      if (term !== undefined) {
        checker.commitAnnounced(this.id, rd.hardState.commit, term, [this.confState, this.prevConfState]);
      }
    }
    this.pending = { rd, stage: 'persist' };
  }

  private runStage(p: { rd: Ready; stage: Stage }): void {
    const rd = p.rd;
    switch (p.stage) {
      case 'persist':
        this.disk.write(rd.hardState, rd.entries, rd.snapshot);
        p.stage = 'sync';
        break;
      case 'sync':
        if (rd.mustSync) this.disk.sync();
        p.stage = 'send';
        break;
      case 'send':
        for (const m of rd.messages) this.env.send(m.type === 'MsgSnap' ? this.freshSnapshotFor(m) : m);
        p.stage = 'apply';
        break;
      case 'apply':
        this.apply(rd);
        p.stage = 'advance';
        break;
      case 'advance':
        this.pending = null;
        this.node!.advance();
        this.maybeSnapshot();
        break;
    }
  }

  private apply(rd: Ready): void {
    const checker = this.env.checker;
    if (rd.snapshot !== null && rd.snapshot.metadata.index > this.sm.applied) {
      this.sm.restore(rd.snapshot);
      if (this.sm.applied !== rd.snapshot.metadata.index) {
        throw new Violation(
          'snapshot',
          `${this.id} got a snapshot at index ${rd.snapshot.metadata.index} whose state is at ${this.sm.applied}`,
        );
      }
      checker.applied(this.id, this.sm.applied, this.sm.hash, 'installed a snapshot at');
      this.prevConfState = this.confState;
      this.confState = rd.snapshot.metadata.confState;
      this.lastSnapshotIndex = this.sm.applied;
      this.lastCompactIndex = this.sm.applied;
      this.stats.snapshotsRestored++;
      this.env.note(this.id, 20, () => `${this.id} installs snapshot @${this.sm.applied}`);
    }
    for (const e of rd.committedEntries) {
      if (e.index <= this.sm.applied) continue;
      if (e.index !== this.sm.applied + 1) {
        throw new Violation(
          'state machine safety',
          `${this.id} was handed entry ${e.index} to apply after ${this.sm.applied}`,
        );
      }
      const proposal = this.sm.apply(e);
      checker.applied(this.id, e.index, this.sm.hash, 'applied');
      if (proposal !== null) this.env.proposalApplied(this.id, this.incarnation, proposal, e);
      if (e.type === EntryType.ConfChange) {
        const cs = this.node!.applyConfChange(decodeConfChange(e.data));
        this.prevConfState = this.confState;
        this.confState = cs;
        this.env.confChangeApplied(this.id, e);
      }
    }
    for (const rs of rd.readStates) checker.readAnswered(this.id, readKey(rs.requestContext), rs.index);
  }

  /**
   * A snapshot taken before its recipient joined does not name it, and the recipient refuses it
   * (core/raft.ts restore): it would wait forever if the leader's state machine had nothing new to
   * snapshot. Like etcd's server (createMergedSnapshotMessage), the application sends a snapshot
   * of its current applied state instead, which includes every configuration change the leader
   * applied, so the recipient's own addition.
   */
  private freshSnapshotFor(m: Message): Message {
    const snap = m.snapshot;
    if (snap === null) return m;
    const cs = snap.metadata.confState;
    const named = [cs.voters, cs.learners, cs.votersOutgoing].some((ids) => ids.includes(m.to));
    if (named) return m;
    let latest = this.disk.storage.snapshot();
    if (latest.metadata.index < this.sm.applied) {
      latest = this.disk.snapshotAndCompact(this.sm.applied, this.confState, this.sm.snapshot(), this.lastCompactIndex);
      this.lastSnapshotIndex = this.sm.applied;
      this.stats.snapshotsTaken++;
    }
    return latest.metadata.index > snap.metadata.index ? { ...m, snapshot: latest } : m;
  }

  private maybeSnapshot(): void {
    const s = this.settings;
    if (this.sm.applied - this.lastSnapshotIndex < s.snapshotEvery) return;
    const compactTo = Math.max(this.lastCompactIndex, this.sm.applied - s.keepAfterSnapshot);
    this.disk.snapshotAndCompact(this.sm.applied, this.confState, this.sm.snapshot(), compactTo);
    this.lastCompactIndex = compactTo;
    this.lastSnapshotIndex = this.sm.applied;
    this.stats.snapshotsTaken++;
  }
}

export function readKey(context: Uint8Array): string {
  return Buffer.from(context).toString('latin1');
}
