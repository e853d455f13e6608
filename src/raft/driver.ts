import { ParleyError } from '../wire/parley-error.js';
import { type ConfChange, decodeConfChange } from './core/conf-change.js';
import { isRaftError } from './core/errors.js';
import type { Message } from './core/messages.js';
import type { Ready, Status } from './core/ready.js';
import { decodeProposal, driverStopped, leadershipLost, ProposalTracker, proposalDropped } from './driver-proposals.js';
import type { ConfState, Entry, HardState, NodeId, Snapshot } from './types.js';
import { EntryType } from './types.js';

/**
 * The async runtime around one RawNode: ticks it, and for every Ready persists, sends,
 * applies and advances (the contract documented in core/ready.ts). All proposals and
 * messages that arrive between two Readys are handled by ONE persist (one fdatasync with
 * WalStorage): that is the group commit the throughput depends on.
 *
 * Ready processing is deferred with setImmediate (injectable), so socket reads and new
 * proposals queued while a save() blocked are taken in before the next Ready is built.
 *
 * Ordering per Ready: persist → send → restore snapshot / apply committed entries (conf
 * changes go to the core) → settle proposals and reads → advance. A leader whose term and
 * vote are already durable sends first and persists while the followers do (thesis §10.2.1).
 */

/** The part of the core's RawNode the driver uses. */
export interface RawNodeApi {
  tick(): void;
  step(message: Message): void;
  /** Throws a raft error with reason 'proposal-dropped' when the proposal is refused. */
  propose(data: Uint8Array): void;
  /** Several proposals as one batch, all or none (same errors as propose). */
  proposeBatch(data: readonly Uint8Array[]): void;
  readIndex(context: Uint8Array): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(): void;
  applyConfChange(cc: ConfChange): ConfState;
  /** Throws a raft error with reason 'proposal-dropped' when refused (one change at a time). */
  proposeConfChange(cc: ConfChange): void;
  transferLeadership(to: NodeId): void;
  status(): Status;
  /** The outcome of sending a snapshot: the leader leaves its snapshot state for this follower. */
  reportSnapshot(id: NodeId, ok: boolean): void;
}

/**
 * Durable storage's write side: WalStorage and MemoryStorage satisfy it. `createSnapshot` and
 * `compact` are needed only when the driver takes snapshots (`snapshotEvery`).
 */
export interface PersistentLog {
  save(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void;
  createSnapshot?(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  compact?(index: number): void;
}

export interface StateMachine<R> {
  /** Applies one committed proposal's payload; the result answers the proposer. Must be deterministic. */
  apply(payload: Uint8Array, entry: Entry): R;
  snapshot(): Uint8Array;
  /**
   * Optional: the same snapshot of the state as it is now, produced in slices between other
   * work, so that a large state does not stall the event loop. Applying more entries before the
   * last slice must not change it.
   */
  beginSnapshot?(): SnapshotInSlices;
  restore(snapshot: Snapshot): void;
}

export interface SnapshotInSlices {
  /** Does a bounded amount of the work; true once the snapshot is complete. */
  step(): boolean;
  /** The snapshot, once `step()` returned true. */
  bytes(): Uint8Array;
}

export interface DriverScheduler {
  /** Calls `fn` every `ms`; returns a cancel function. */
  every(ms: number, fn: () => void): () => void;
  /** Runs `fn` soon, after pending I/O callbacks. */
  defer(fn: () => void): void;
}

export const realScheduler: DriverScheduler = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  defer(fn) {
    setImmediate(fn);
  },
};

export interface RaftDriverOptions<R> {
  readonly id: NodeId;
  readonly node: RawNodeApi;
  readonly log: PersistentLog;
  readonly send: (messages: readonly Message[]) => void;
  readonly stateMachine: StateMachine<R>;
  /** Milliseconds per raft tick. Default 10. */
  readonly tickMs?: number;
  readonly scheduler?: DriverScheduler;
  /** The last applied index on start (the snapshot index after a restart). Default 0. */
  readonly applied?: number;
  /**
   * Hand every proposal made between two Readys to the core as ONE MsgProp (a batch of entries)
   * instead of one propose() each. The leader then sends one MsgApp per follower per batch, not
   * per proposal, and a follower forwards a batch in one message. A refused batch rejects each of
   * its proposals with 'proposal-dropped'. Default false.
   */
  readonly batchProposals?: boolean;
  /** The configuration at `applied` (the snapshot's, or the stored one); kept up to date from applied conf changes. */
  readonly confState?: ConfState;
  /**
   * Take a state-machine snapshot and compact the log every this many applied entries
   * (0 = never, the default). `snapshotKeep` entries below the snapshot stay in the log so a
   * slightly lagging follower catches up from the log rather than a snapshot (default 1000).
   */
  readonly snapshotEvery?: number;
  readonly snapshotKeep?: number;
}

interface ReadWaiter {
  index: number | null;
  readonly resolve: () => void;
  readonly reject: (err: ParleyError) => void;
}

export class RaftDriver<R> {
  private readonly proposals: ProposalTracker<R>;
  private readonly reads = new Map<string, ReadWaiter>();
  private readonly scheduler: DriverScheduler;
  private cancelTick: (() => void) | null = null;
  private scheduled = false;
  private stopped = false;
  private readSeq = 0;
  private lead: NodeId | null = null;
  private appliedIndex: number;
  /** batchProposals: proposals tracked but not yet handed to the core (flushed before each Ready). */
  private unproposed: { readonly seq: number; readonly data: Uint8Array }[] = [];
  private snapshotIndex: number;
  private conf: ConfState;
  /** Conf changes proposed here: the envelope travels in the ConfChange's context. */
  private readonly confChanges: ProposalTracker<ConfState>;
  /**
   * A follower refuses a snapshot whose configuration does not contain it, so a member added
   * after the last snapshot could never catch up from it: a conf change triggers a snapshot.
   */
  private confChangedSinceSnapshot = false;
  /**
   * Members that conf-change entries in the log (appended, not yet applied) add, with the index
   * of the entry: they may already talk to this member (a leader's first messages can reach a
   * follower before the change is committed there). Entries at or below `appliedIndex` are gone
   * from this map: by then `conf` says whether they are members.
   */
  private readonly pendingPeers = new Map<NodeId, number>();
  /** Index of the entry (or snapshot) that established `conf`. */
  private confIndexValue: number;
  private readonly confListeners = new Set<(conf: ConfState, index: number) => void>();
  private readonly leaderListeners = new Set<(lead: NodeId | null) => void>();
  /** The snapshot being taken in slices (beginSnapshot), if any. */
  private snapshotJob: { readonly slices: SnapshotInSlices } | null = null;
  /** Term and vote of the last HardState this driver saved (null: none yet, so not known to be durable). */
  private savedTermVote: HardState | null = null;

  constructor(private readonly o: RaftDriverOptions<R>) {
    this.proposals = new ProposalTracker<R>(o.id);
    this.confChanges = new ProposalTracker<ConfState>(o.id);
    this.scheduler = o.scheduler ?? realScheduler;
    this.appliedIndex = o.applied ?? 0;
    this.snapshotIndex = this.appliedIndex;
    this.conf = o.confState ?? { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
    this.confIndexValue = this.appliedIndex;
  }

  /** Index of the conf-change entry (or snapshot) that established `confState`; 0 when none. */
  get confIndex(): number {
    return this.confIndexValue;
  }

  /** Calls `fn` after each applied configuration change (a conf-change entry or a restored snapshot). */
  onConfChange(fn: (conf: ConfState, index: number) => void): () => void {
    this.confListeners.add(fn);
    return () => this.confListeners.delete(fn);
  }

  /** The configuration as of the last applied conf change. */
  get confState(): ConfState {
    return this.conf;
  }

  /** False until this member has a configuration (a member added to a running cluster gets it from the leader). */
  get hasConfiguration(): boolean {
    return this.conf.voters.length > 0 || this.conf.votersOutgoing.length > 0;
  }

  /**
   * Whether `id` may send raft messages to this member: it is in the configuration, or a
   * conf-change entry in this member's log adds it. Without a configuration (`hasConfiguration`)
   * nobody is: the caller decides whom a member waiting to join listens to.
   */
  isPeer(id: NodeId): boolean {
    const c = this.conf;
    return (
      c.voters.includes(id) ||
      c.votersOutgoing.includes(id) ||
      c.learners.includes(id) ||
      c.learnersNext.includes(id) ||
      this.pendingPeers.has(id)
    );
  }

  /** Calls `fn` whenever the known leader changes (after the Ready that told it is persisted). */
  onLeaderChange(fn: (lead: NodeId | null) => void): () => void {
    this.leaderListeners.add(fn);
    return () => this.leaderListeners.delete(fn);
  }

  /**
   * Proposes a membership change; resolves with the new configuration once the change is
   * applied on this member. `cc.context` is replaced by an envelope identifying the proposal
   * and wrapping the caller's context (see `confChangeContext`).
   */
  proposeConfChange(cc: ConfChange): Promise<ConfState> {
    if (this.stopped) return Promise.reject(driverStopped());
    const p = this.confChanges.track(cc.context ?? new Uint8Array(0));
    try {
      this.o.node.proposeConfChange({ ...cc, context: p.data });
    } catch (err) {
      this.confChanges.reject(
        p.seq,
        isRaftError(err, 'proposal-dropped') ? proposalDropped(err) : ParleyError.from(err),
      );
    }
    this.kick();
    return p.result;
  }

  transferLeadership(to: NodeId): void {
    if (this.stopped) return;
    this.o.node.transferLeadership(to);
    this.kick();
  }

  status(): Status {
    return this.o.node.status();
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get leader(): NodeId | null {
    return this.lead;
  }

  start(): void {
    if (this.cancelTick !== null || this.stopped) return;
    this.cancelTick = this.scheduler.every(this.o.tickMs ?? 10, () => {
      this.o.node.tick();
      this.kick();
    });
    this.kick();
  }

  /** Resolves with the state machine's result once the entry is applied on this member. */
  propose(payload: Uint8Array): Promise<R> {
    if (this.stopped) return Promise.reject(driverStopped());
    const p = this.proposals.track(payload);
    if (this.o.batchProposals) {
      this.unproposed.push(p);
      this.kick();
      return p.result;
    }
    try {
      this.o.node.propose(p.data);
    } catch (err) {
      this.proposals.reject(p.seq, isRaftError(err, 'proposal-dropped') ? proposalDropped(err) : ParleyError.from(err));
    }
    this.kick();
    return p.result;
  }

  /**
   * Resolves once this member has applied everything committed when the read was issued.
   * `signal` abandons it (rejects with its reason): a request forwarded to the leader, or its
   * answer, may be lost, and the waiter must not stay behind until the next leader change.
   */
  readIndex(signal?: AbortSignal): Promise<void> {
    if (this.stopped) return Promise.reject(driverStopped());
    const ctx = new TextEncoder().encode(`${this.o.id}/${++this.readSeq}`);
    const key = Buffer.from(ctx).toString('latin1');
    const done = new Promise<void>((resolve, reject) => this.reads.set(key, { index: null, resolve, reject }));
    signal?.addEventListener(
      'abort',
      () => this.settleRead(key, ParleyError.from(signal.reason ?? new ParleyError('CANCELLED', 'read abandoned'))),
      { once: true },
    );
    try {
      this.o.node.readIndex(ctx);
    } catch (err) {
      this.settleRead(key, isRaftError(err, 'proposal-dropped') ? proposalDropped(err) : ParleyError.from(err));
    }
    this.kick();
    return done;
  }

  /** An incoming message from a peer. */
  step(message: Message): void {
    if (this.stopped) return;
    try {
      this.o.node.step(message);
    } catch (err) {
      // Messages from unknown peers and stale local types are dropped, as etcd does.
      if (!ParleyError.is(err, 'NOT_FOUND', 'INVALID_ARGUMENT')) throw err;
    }
    this.kick();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTick?.();
    this.cancelTick = null;
    this.unproposed = [];
    this.proposals.rejectAll(driverStopped());
    this.confChanges.rejectAll(driverStopped());
    for (const key of [...this.reads.keys()]) this.settleRead(key, driverStopped());
  }

  private kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.scheduler.defer(() => {
      this.scheduled = false;
      this.processReadys();
    });
  }

  private proposeBatch(): void {
    const batch = this.unproposed;
    this.unproposed = [];
    try {
      this.o.node.proposeBatch(batch.map((p) => p.data));
    } catch (err) {
      const reason = isRaftError(err, 'proposal-dropped') ? proposalDropped(err) : ParleyError.from(err);
      for (const p of batch) this.proposals.reject(p.seq, reason);
    }
  }

  private processReadys(): void {
    if (this.unproposed.length > 0 && !this.stopped) this.proposeBatch();
    // Bounded: each Ready is consumed by advance(); new work re-kicks.
    for (let rounds = 0; rounds < 64 && !this.stopped && this.o.node.hasReady(); rounds++) {
      this.handle(this.o.node.ready());
    }
    if (!this.stopped && this.o.node.hasReady()) this.kick();
  }

  private handle(rd: Ready): void {
    let leaderChanged = false;
    if (rd.softState !== null && rd.softState.lead !== this.lead) {
      // A known leader went away: proposals in flight may still commit under the next one,
      // or may not. Tell callers now rather than leave them hanging. (Learning the first
      // leader, from null, loses nothing.)
      if (this.lead !== null) {
        if (this.proposals.size > 0) this.proposals.rejectAll(leadershipLost());
        if (this.confChanges.size > 0) this.confChanges.rejectAll(leadershipLost());
        for (const [key, w] of this.reads) if (w.index === null) this.settleRead(key, leadershipLost());
      }
      this.lead = rd.softState.lead;
      leaderChanged = true;
    }
    // A leader sends before its own write, so followers persist in parallel with it (thesis
    // §10.2.1; etcd does the same). Safe: the leader's entries count towards a commit only in a
    // later Ready, i.e. after this save returned. Only when the term and vote are already
    // durable: a message must never reveal a term or vote that a crash could forget.
    const sendFirst =
      this.lead === this.o.id && rd.snapshot === null && (rd.hardState === null || this.hardStateDurable(rd.hardState));
    if (sendFirst) this.sendMessages(rd.messages);
    this.o.log.save(rd.hardState, rd.entries, rd.snapshot);
    for (const e of rd.entries) if (e.type === EntryType.ConfChange) this.notePendingPeers(e);
    if (rd.hardState !== null) this.savedTermVote = rd.hardState;
    if (!sendFirst) this.sendMessages(rd.messages);
    if (rd.snapshot !== null && rd.snapshot.metadata.index > this.appliedIndex) {
      this.o.stateMachine.restore(rd.snapshot);
      this.appliedIndex = rd.snapshot.metadata.index;
      this.snapshotIndex = this.appliedIndex;
      this.conf = rd.snapshot.metadata.confState;
      this.confChangedSinceSnapshot = false;
      this.snapshotJob = null;
      this.forgetPendingPeers(this.appliedIndex);
      this.confIndexValue = this.appliedIndex;
      for (const fn of this.confListeners) fn(this.conf, this.confIndexValue);
    }
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.requestContext).toString('latin1');
      const w = this.reads.get(key);
      if (w !== undefined) w.index = rs.index;
    }
    for (const [key, w] of this.reads) if (w.index !== null && w.index <= this.appliedIndex) this.settleRead(key, null);
    this.o.node.advance();
    this.maybeSnapshot();
    if (leaderChanged) for (const fn of this.leaderListeners) fn(this.lead);
  }

  private hardStateDurable(hs: HardState): boolean {
    const saved = this.savedTermVote;
    return saved !== null && saved.term === hs.term && saved.vote === hs.vote;
  }

  private sendMessages(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    this.o.send(messages);
    // `send` is fire-and-forget: a snapshot handed to it counts as sent. If it was lost, the
    // follower's next rejection makes the leader probe and send a snapshot again.
    for (const m of messages) if (m.type === 'MsgSnap') this.o.node.reportSnapshot(m.to, true);
  }

  /**
   * Every `snapshotEvery` applied entries: snapshot the state machine, then drop the log below it
   * (minus a margin). A state machine with `beginSnapshot` is snapshotted in slices, one per
   * event-loop turn, so Readys keep flowing meanwhile; the snapshot is of the state at `index`
   * whatever is applied before it completes. One snapshot at a time; a snapshot installed from
   * the leader meanwhile abandons it.
   */
  private maybeSnapshot(): void {
    const every = this.o.snapshotEvery ?? 0;
    const log = this.o.log;
    if (every <= 0 || this.appliedIndex <= this.snapshotIndex || this.snapshotJob !== null) return;
    if (this.appliedIndex - this.snapshotIndex < every && !this.confChangedSinceSnapshot) return;
    if (log.createSnapshot === undefined || log.compact === undefined) return;
    const index = this.appliedIndex;
    const conf = this.conf;
    this.snapshotIndex = index;
    this.confChangedSinceSnapshot = false;
    const sm = this.o.stateMachine;
    if (sm.beginSnapshot === undefined) {
      this.saveSnapshot(index, conf, sm.snapshot());
      return;
    }
    const job = { slices: sm.beginSnapshot() };
    this.snapshotJob = job;
    const work = () => {
      if (this.snapshotJob !== job || this.stopped) return;
      if (!job.slices.step()) {
        this.scheduler.defer(work);
        return;
      }
      this.snapshotJob = null;
      this.saveSnapshot(index, conf, job.slices.bytes());
    };
    this.scheduler.defer(work);
  }

  private saveSnapshot(index: number, conf: ConfState, data: Uint8Array): void {
    const log = this.o.log;
    try {
      log.createSnapshot!(index, conf, data);
    } catch (err) {
      // A newer snapshot (installed from the leader) already covers it.
      if (isRaftError(err, 'snapshot-out-of-date')) return;
      throw err;
    }
    const keep = this.o.snapshotKeep ?? 1000;
    if (index - keep > 0) log.compact!(index - keep);
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.appliedIndex) return;
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      this.conf = this.o.node.applyConfChange(cc);
      this.confChangedSinceSnapshot = true;
      this.forgetPendingPeers(e.index);
      this.confIndexValue = e.index;
      const env = cc.context === undefined ? null : decodeProposal(cc.context);
      if (env !== null) this.confChanges.applied(env, this.conf);
      for (const fn of this.confListeners) fn(this.conf, e.index);
    } else {
      const env = decodeProposal(e.data);
      if (env !== null) {
        let result: R;
        try {
          result = this.o.stateMachine.apply(env.payload, e);
        } catch (err) {
          this.proposals.failed(env, ParleyError.from(err));
          this.appliedIndex = e.index;
          return;
        }
        this.proposals.applied(env, result);
      }
    }
    this.appliedIndex = e.index;
  }

  private notePendingPeers(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch {
      return; // applying it will fail loudly; nobody is added by it
    }
    for (const c of cc.changes) if (c.type !== 'RemoveNode') this.pendingPeers.set(c.nodeId, e.index);
  }

  private forgetPendingPeers(upTo: number): void {
    for (const [id, index] of this.pendingPeers) if (index <= upTo) this.pendingPeers.delete(id);
  }

  /** The caller's context of a ConfChange proposed through the driver (null if none or not ours). */
  static confChangeContext(cc: ConfChange): Uint8Array | null {
    if (cc.context === undefined) return null;
    return decodeProposal(cc.context)?.payload ?? null;
  }

  private settleRead(key: string, err: ParleyError | null): void {
    const w = this.reads.get(key);
    if (w === undefined) return;
    this.reads.delete(key);
    if (err === null) w.resolve();
    else w.reject(err);
  }
}
