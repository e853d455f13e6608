import { Prng } from '../../base/random.js';
import { msgpackCodec } from '../../wire/codec.js';
import { bootstrapCluster } from '../bootstrap.js';
import { type ConfChange, decodeConfChange } from '../core/conf-change.js';
import { isRaftError } from '../core/errors.js';
import { MESSAGE_TYPES, type Message, type MessageType } from '../core/messages.js';
import type { Status } from '../core/ready.js';
import { encodeProposal } from '../driver-proposals.js';
import type { Entry, NodeId } from '../types.js';
import { SafetyChecker } from './safety-checker.js';
import { type MemberSettings, readKey, SimMember } from './sim-member.js';
import { type NetworkFaults, SimNetwork } from './sim-network.js';
import type { ApplicationFactory, AppliedProposal } from './sim-state-machine.js';
import { Trace } from './trace.js';

export interface ClusterOptions {
  readonly seed: number;
  /** Members of the initial cluster: n1..nN. */
  readonly nodes: number;
  readonly settings: MemberSettings;
  readonly faults: NetworkFaults;
  /** Per member per step: probability that the Ready pipeline stalls (does at most one stage). */
  readonly slowDisk: number;
  /** Probability that a message travels as MessagePack bytes (the wire codec), decoded at the receiver as a transport does. */
  readonly encodeMessages: number;
  /** Probability that a message lost to a partition is reported to its sender (`reportUnreachable`). */
  readonly reportUnreachable: number;
  /** Recent events kept for the failure report (0: none). */
  readonly traceKeep?: number;
  /** Print every event as it happens. */
  readonly echo?: ((line: string) => void) | null;
  /** The application every member runs (a fresh one per start). Default: the hash chain alone. */
  readonly application?: ApplicationFactory | null;
}

/**
 * What becomes of a proposal made with `proposeTracked`, as the proposer learns it (the
 * simulated counterpart of the driver's proposal promise):
 *  - applied: the proposing member applied it (at `index`) and the application answered `result`;
 *  - unknown: the proposing member crashed or was decommissioned before applying it, so the
 *    entry may or may not be committed later (the caller cannot tell, as a real client cannot).
 * A proposal the member refused at once (`proposal-dropped`) is reported by `proposeTracked`
 * returning null: it is in no log. A proposal lost on the way (forwarded to a leader that lost
 * office, dropped by the network) is never settled: the caller's own timeout decides when to give
 * up on it (`forgetProposal`), as a client's deadline does.
 */
export type ProposalOutcome =
  | { readonly kind: 'applied'; readonly index: number; readonly result: unknown }
  | { readonly kind: 'unknown'; readonly reason: string };

interface TrackedProposal {
  readonly member: NodeId;
  readonly incarnation: number;
  readonly settle: (outcome: ProposalOutcome) => void;
}

const MESSAGE_CODES = new Map<MessageType, number>();
for (const t of MESSAGE_TYPES) {
  MESSAGE_CODES.set(t, MESSAGE_CODES.size + 100);
}

/** n7 → 7: node ids as numbers for the trace hash. */
export function idNumber(id: NodeId): number {
  return Number.parseInt(id.slice(1), 10) || 0;
}

export function nodeId(n: number): NodeId {
  return `n${n}`;
}

function describeMessage(m: Message): string {
  let s = `${m.type} ${m.from}→${m.to} t${m.term}`;
  if (m.type === 'MsgApp') s += ` i${m.index}/t${m.logTerm} +${m.entries.length} c${m.commit}`;
  else if (m.type === 'MsgAppResp') s += ` i${m.index}${m.reject ? ` REJECT hint ${m.rejectHint}` : ''}`;
  else if (m.type === 'MsgVote' || m.type === 'MsgPreVote') s += ` last ${m.index}/t${m.logTerm}`;
  else if (m.type.endsWith('Resp') && m.reject) s += ' REJECT';
  else if (m.type === 'MsgSnap') s += ` snap@${m.snapshot?.metadata.index}`;
  else if (m.type === 'MsgHeartbeat') s += ` c${m.commit}`;
  return s;
}

/**
 * A whole raft cluster in one process, driven step by step. One step is one unit of simulated
 * time: messages due now are delivered (in a seeded random order), every live member ticks once,
 * then every live member moves its Ready pipeline forward (all of it, or only one stage when its
 * disk is slow this step), then the safety invariants are checked.
 *
 * Everything random comes from generators forked off the seed, so a seed replays exactly. The
 * cluster does nothing on its own besides time passing: the fault schedule and the workload
 * (or a test) call crash/restart/partition/propose/... between steps.
 */
export class SimCluster {
  readonly members = new Map<NodeId, SimMember>();
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly trace: Trace;
  /** Drives the schedule of this cluster (message order, pipeline stalls, crash tails). */
  readonly rng: Prng;
  private readonly coreRng: Prng;
  now = 0;
  /** Per member per step: probability that its Ready pipeline stalls. */
  slowDisk: number;
  private readSeq = 0;
  stats = { proposals: 0, proposalsDropped: 0, reads: 0, confChangesApplied: 0, crashes: 0, restarts: 0, transfers: 0 };
  /** Called for every proposal any member applies (every member, every time): replicas can be compared. */
  onProposalApplied: ((by: NodeId, index: number, applied: AppliedProposal) => void) | null = null;
  private readonly tracked = new Map<number, TrackedProposal>();
  private trackedSeq = 0;
  /** Called when a ConfChange entry is applied for the first time anywhere (the change is committed). */
  onConfChangeCommitted: ((cc: ConfChange, index: number) => void) | null = null;
  private lastConfChangeIndex = 0;
  /** Every member some committed configuration named: once a later one no longer names it, it is decommissioned. */
  private readonly everConfigured = new Set<NodeId>();

  constructor(readonly options: ClusterOptions) {
    this.slowDisk = options.slowDisk;
    const root = new Prng(options.seed);
    this.rng = root.fork();
    this.coreRng = root.fork();
    this.network = new SimNetwork(root.fork(), options.faults);
    this.trace = new Trace(options.traceKeep ?? 0, options.echo ?? null);
    const voters = Array.from({ length: options.nodes }, (_, i) => nodeId(i + 1));
    const boot = bootstrapCluster(voters);
    for (const id of voters) {
      const m = this.newMember(id);
      m.disk.bootstrap(boot.hardState, boot.entries);
      m.start(this.coreRng.fork());
    }
  }

  /** Starts a brand-new member with an empty disk (it learns the configuration from the leader). */
  addMember(id: NodeId): SimMember {
    const existing = this.members.get(id);
    if (existing !== undefined) return existing;
    const m = this.newMember(id);
    m.start(this.coreRng.fork());
    this.note(id, 1, () => `${id} starts with an empty disk`);
    return m;
  }

  member(id: NodeId): SimMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** Advances simulated time by one step. Throws a Violation when an invariant breaks. */
  step(): void {
    const now = ++this.now;
    for (const d of this.network.due(now)) {
      const m = d.message;
      const target = this.members.get(m.to);
      const ok = d.kind === 'deliver' && target !== undefined && target.alive;
      this.trace.event(
        now,
        [MESSAGE_CODES.get(m.type)!, idNumber(m.from), idNumber(m.to), m.term, m.index, ok ? 1 : 0],
        () => (ok ? describeMessage(m) : `lost ${describeMessage(m)}`),
      );
      if (ok) target.deliver(m);
      if (m.type === 'MsgSnap') this.members.get(m.from)?.node?.reportSnapshot(m.to, ok);
    }
    for (const m of this.members.values()) m.node?.tick();
    const order = this.rng.shuffle([...this.members.values()]);
    for (const m of order) {
      if (!m.alive) continue;
      m.work(this.rng.chance(this.slowDisk) ? this.rng.int(2) : 64);
    }
    this.check();
  }

  /** The invariants that are checked after every step (the rest are checked as events happen). */
  check(): void {
    for (const m of this.members.values()) {
      const r = m.node?.raft;
      if (r !== undefined && r.role === 'leader') this.checker.leader(m.id, r.term);
    }
    this.checker.checkDurable((id, index, term) => this.members.get(id)?.disk.durablyHolds(index, term) ?? false);
  }

  crash(id: NodeId): void {
    const m = this.member(id);
    if (!m.alive) return;
    const busy = m.busy;
    m.crash(this.rng);
    this.stats.crashes++;
    this.abandonProposalsOf(id, 'its member crashed');
    this.note(
      id,
      2,
      () => `${id} CRASHES${busy ? ' mid-Ready' : ''} (unsynced writes lost: ${m.stats.lostWrites} so far)`,
    );
  }

  restart(id: NodeId): void {
    const m = this.member(id);
    if (m.alive || m.decommissioned) return;
    m.start(this.coreRng.fork());
    this.stats.restarts++;
    this.note(id, 3, () => `${id} restarts from its disk (applied ${m.sm.applied})`);
  }

  /** Stops a member for good (it was removed from the configuration). */
  decommission(id: NodeId): void {
    const m = this.member(id);
    m.node = null;
    m.decommissioned = true;
    this.abandonProposalsOf(id, 'its member was decommissioned');
    this.note(id, 4, () => `${id} is decommissioned`);
  }

  /** A client proposal at `id` (a follower forwards it). Returns false when refused. */
  propose(id: NodeId, data: Uint8Array): boolean {
    const node = this.member(id).node;
    if (node === null) return false;
    this.stats.proposals++;
    try {
      node.propose(data);
      this.note(id, 5, () => `propose at ${id}`);
      return true;
    } catch (err) {
      if (!isRaftError(err, 'proposal-dropped')) throw err;
      this.stats.proposalsDropped++;
      return false;
    }
  }

  /**
   * A client proposal at `id` whose outcome comes back to `settle` (see ProposalOutcome): the
   * payload travels in a proposal envelope, as the driver writes it, and the application applies
   * the payload. Returns the proposal's ticket, or null when the member refused it at once
   * (crashed, or `proposal-dropped`): then it is in no log and `settle` is never called.
   */
  proposeTracked(id: NodeId, payload: Uint8Array, settle: (outcome: ProposalOutcome) => void): number | null {
    const m = this.member(id);
    const ticket = ++this.trackedSeq;
    if (!this.propose(id, encodeProposal('sim', ticket, payload))) return null;
    this.tracked.set(ticket, { member: id, incarnation: m.incarnation, settle });
    return ticket;
  }

  /** The caller gave up waiting (its deadline): the proposal's outcome is no longer reported. */
  forgetProposal(ticket: number): void {
    this.tracked.delete(ticket);
  }

  /** A linearizable read at `id`; the answer is checked when it arrives. */
  readIndex(id: NodeId): void {
    const node = this.member(id).node;
    if (node === null) return;
    const ctx = new TextEncoder().encode(`r${++this.readSeq}`);
    this.checker.readIssued(readKey(ctx), id);
    this.stats.reads++;
    try {
      node.readIndex(ctx);
      this.note(id, 6, () => `read r${this.readSeq} at ${id}`);
    } catch (err) {
      if (!isRaftError(err, 'proposal-dropped')) throw err;
    }
  }

  proposeConfChange(id: NodeId, cc: ConfChange): boolean {
    const node = this.member(id).node;
    if (node === null) return false;
    try {
      node.proposeConfChange(cc);
    } catch (err) {
      if (isRaftError(err, 'proposal-dropped') || isRaftError(err, 'invalid-config')) return false;
      throw err;
    }
    this.note(id, 7, () => `${id} proposes ${describeConfChange(cc)}`);
    return true;
  }

  transferLeadership(from: NodeId, to: NodeId): void {
    const node = this.member(from).node;
    if (node === null) return;
    node.transferLeadership(to);
    this.stats.transfers++;
    this.note(from, 8, () => `${from} transfers leadership to ${to}`);
  }

  partition(sides: ReadonlyMap<NodeId, number>): void {
    this.network.partition(sides);
    this.note('n0', 9, () => `PARTITION ${this.network.describePartition()}`);
  }

  heal(): void {
    if (!this.network.partitioned) return;
    this.network.heal();
    this.note('n0', 10, () => 'HEAL');
  }

  /** The live leader with the highest term, if any. */
  leader(): { id: NodeId; status: Status } | null {
    let best: SimMember | null = null;
    for (const m of this.members.values()) {
      const r = m.node?.raft;
      if (r !== undefined && r.role === 'leader' && (best === null || r.term > best.node!.raft.term)) best = m;
    }
    return best === null ? null : { id: best.id, status: best.node!.status() };
  }

  /** Members that are alive and not decommissioned. */
  live(): SimMember[] {
    return [...this.members.values()].filter((m) => m.alive);
  }

  note(id: NodeId, code: number, describe: () => string): void {
    this.trace.event(this.now, [code, idNumber(id)], describe);
  }

  private newMember(id: NodeId): SimMember {
    const m = new SimMember(id, this.options.settings, {
      checker: this.checker,
      send: (msg) => this.send(msg),
      confChangeApplied: (by, e) => this.confChangeApplied(by, e),
      proposalApplied: (by, incarnation, applied, e) => this.proposalApplied(by, incarnation, applied, e),
      application: this.options.application ?? null,
      note: (who, code, describe) => this.note(who, code, describe),
    });
    this.members.set(id, m);
    return m;
  }

  private send(m: Message): void {
    const encode = this.options.encodeMessages > 0 && this.rng.chance(this.options.encodeMessages);
    const msg = encode ? (msgpackCodec.decode(msgpackCodec.encode(m)) as Message) : m;
    const queued = this.network.send(this.now, msg);
    if (queued) return;
    const sender = this.members.get(m.from)?.node;
    // The transport reports a snapshot it could not deliver; a leader waits for that report.
    if (m.type === 'MsgSnap') sender?.reportSnapshot(m.to, false);
    else if (!this.network.connected(m.from, m.to) && this.rng.chance(this.options.reportUnreachable)) {
      sender?.reportUnreachable(m.to);
    }
  }

  private proposalApplied(by: NodeId, incarnation: number, applied: AppliedProposal, e: Entry): void {
    this.onProposalApplied?.(by, e.index, applied);
    const ticket = applied.envelope.seq;
    const t = this.tracked.get(ticket);
    if (t === undefined || t.member !== by || t.incarnation !== incarnation) return;
    this.tracked.delete(ticket);
    t.settle({ kind: 'applied', index: e.index, result: applied.result });
  }

  private abandonProposalsOf(id: NodeId, reason: string): void {
    for (const [ticket, t] of this.tracked) {
      if (t.member !== id) continue;
      this.tracked.delete(ticket);
      t.settle({ kind: 'unknown', reason });
    }
  }

  private confChangeApplied(by: NodeId, e: Entry): void {
    if (e.index <= this.lastConfChangeIndex) return;
    this.lastConfChangeIndex = e.index;
    const cc = decodeConfChange(e.data);
    this.stats.confChangesApplied++;
    this.note(by, 11, () => `conf change @${e.index} committed: ${describeConfChange(cc)}`);
    const cs = this.member(by).confState;
    const inConfig = new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext]);
    for (const id of inConfig) this.everConfigured.add(id);
    for (const id of this.everConfigured) {
      if (!inConfig.has(id) && !this.member(id).decommissioned) this.decommission(id);
    }
    this.onConfChangeCommitted?.(cc, e.index);
  }
}

export function describeConfChange(cc: ConfChange): string {
  if (cc.changes.length === 0) return 'leave joint';
  return `${cc.transition} ${cc.changes.map((c) => `${c.type} ${c.nodeId}`).join(', ')}`;
}
