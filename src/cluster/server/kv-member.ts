import { type Timer, wallTimer } from '../../base/clock.js';
import type { Random } from '../../base/random.js';
import type { KvCaller } from '../../kv/auth/auth-types.js';
import { encodeToPropose } from '../../kv/command-codec.js';
import { validateCommand } from '../../kv/commands.js';
import { KvStateMachine } from '../../kv/kv-state-machine.js';
import { maxCommandBytesFor } from '../../kv/limits.js';
import type { ApplyOutcome, KvResult } from '../../kv/types.js';
import type { Message } from '../../raft/core/messages.js';
import type { Status } from '../../raft/core/ready.js';
import { type DriverScheduler, RaftDriver, type StateMachine } from '../../raft/driver.js';
import { batchBySize, messageBytes } from '../../raft/message-batches.js';
import type { ConfState, NodeId } from '../../raft/types.js';
import type { WalEncryption } from '../../raft/wal/data-keyring.js';
import { WalStorage } from '../../raft/wal/wal-storage.js';
import type { Logger } from '../../transport/logger.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../wire/frame.js';
import { ParleyError } from '../../wire/parley-error.js';
import { LeaseDuties } from './lease-duties.js';
import { bootstrapCluster, createRawNode } from './raft-factory.js';
import { ReadBatcher } from './read-batcher.js';

export interface KvMemberOptions {
  readonly id: NodeId;
  /** WAL + snapshot directory. */
  readonly dataDir: string;
  /** Encryption at rest of the WAL and snapshots (WalStorageOptions.encryption). */
  readonly encryption?: WalEncryption;
  /** The voters of a brand-new cluster (bootstrapped once, when `dataDir` holds no log); null: this member joins a running cluster. */
  readonly initialVoters: readonly NodeId[] | null;
  /** The members this one was told about (its peers): whom it listens to before it has a configuration. */
  readonly knownPeers?: readonly NodeId[];
  /** Sends messages to other members (best effort: raft retries). */
  readonly send: (to: NodeId, messages: Message[]) => void;
  readonly logger: Logger;
  /** Milliseconds per raft tick (default 50). */
  readonly tickMs?: number;
  /** Election timeout in ticks (default 10) and heartbeat interval in ticks (default 2). */
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  /**
   * Snapshot + compact every N applied entries (default 100000, as etcd's --snapshot-count): a
   * snapshot encodes the whole retained history, so its cost per entry falls with the interval.
   */
  readonly snapshotEvery?: number;
  /** Log entries kept below a snapshot (default 1000). */
  readonly snapshotKeep?: number;
  /** How often the leader looks for expired leases (default 200 ms) and checkpoints remaining TTLs (default 1000 ms). */
  readonly leaseCheckMs?: number;
  readonly checkpointMs?: number;
  readonly scheduler?: DriverScheduler;
  /** Wall-clock time and timers of the lease duties and read rounds (default: the real ones). */
  readonly timer?: Timer;
  /** The raft core's randomized election timeouts (default Math.random). */
  readonly random?: Random;
  /**
   * The transport's largest frame (default DEFAULT_MAX_FRAME_SIZE; every member must use the
   * same). One `send` carries at most this minus the call's envelope; the largest command
   * (`maxCommandBytes`) and the entries per append message (`maxSizePerMsg`) are derived from
   * it, so whatever the leader accepts can reach every follower.
   */
  readonly maxFrameSize?: number;
}

/** Bytes of a `$raft.step` call around its messages: frame header, packet fields, action name. */
export const RAFT_CALL_ENVELOPE_BYTES = 4096;

/** How many times a command is proposed while the auth state keeps changing under it. */
const AUTH_ATTEMPTS = 5;

const SERVER: KvCaller = { kind: 'server' };

/** Entries per append message (raft's maxSizePerMsg), at most this much or what one send can carry. */
const MAX_APPEND_BYTES = 1024 * 1024;

/**
 * One member of a replicated KV cluster: the raft core, its WAL, the driver and the KV state
 * machine, plus the leader's lease duties (promote on election, propose expiries and
 * checkpoints). It knows nothing of the network: messages leave through `send` and arrive
 * through `step`.
 *
 * Invariant: every replicated change goes through `propose` (raft log order); local reads
 * (`sm.read`) are linearizable only after `readIndex()` resolved (on any member).
 */
export class KvMember {
  readonly id: NodeId;
  readonly sm: KvStateMachine;
  private readonly maxMessageBytes: number;
  private readonly storage: WalStorage;
  private readonly driver: RaftDriver<ApplyOutcome | undefined>;
  private readonly timer: Timer;
  private readonly leases: LeaseDuties;
  private readonly reads: ReadBatcher;
  private stopped = false;
  private restored = 0;
  private removedError: ParleyError | null = null;
  private resolveRemoved!: (err: ParleyError) => void;
  /**
   * Resolves once this member knows it was removed from the cluster: it applied a configuration
   * without itself, or a member of its configuration that applied a later one said so
   * (`noticeNotMember`). From then on it serves nothing (see `removed`); never rejects.
   */
  readonly whenRemoved: Promise<ParleyError> = new Promise((resolve) => {
    this.resolveRemoved = resolve;
  });

  constructor(private readonly o: KvMemberOptions) {
    this.id = o.id;
    this.timer = o.timer ?? wallTimer;
    const maxFrameSize = o.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.maxMessageBytes = maxFrameSize - RAFT_CALL_ENVELOPE_BYTES;
    // A command at the limit, wrapped in its proposal envelope, entry and MsgApp, still fits one send.
    const maxCommandBytes = maxCommandBytesFor(maxFrameSize);
    this.sm = new KvStateMachine({ limits: { maxCommandBytes } });
    this.storage = WalStorage.open(o.dataDir, o.encryption ? { encryption: o.encryption } : {});
    const fresh = this.storage.lastIndex() === 0 && this.storage.snapshot().metadata.index === 0;
    if (fresh && o.initialVoters !== null) {
      const boot = bootstrapCluster(o.initialVoters);
      this.storage.save(boot.hardState, boot.entries, null);
    }
    const snap = this.storage.snapshot();
    if (snap.metadata.index > 0) this.sm.restore(snap.data);
    const applied = snap.metadata.index;
    const sm = this.sm;
    const self = this;
    const machine: StateMachine<ApplyOutcome | undefined> = {
      apply: (payload, entry) => sm.applyEntry({ ...entry, data: payload }),
      snapshot: () => sm.snapshot(),
      beginSnapshot: () => sm.beginSnapshot(),
      restore: (s) => {
        sm.restore(s.data);
        this.restored++;
      },
    };
    const node = createRawNode({
      id: o.id,
      maxSizePerMsg: Math.min(MAX_APPEND_BYTES, maxCommandBytes),
      storage: this.storage,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 2,
      random: o.random ?? Math.random,
      applied,
      preVote: true,
      checkQuorum: true,
    });
    this.driver = new RaftDriver({
      id: o.id,
      node,
      log: this.storage,
      send: (messages) => this.route(messages),
      stateMachine: machine,
      tickMs: o.tickMs ?? 50,
      scheduler: o.scheduler,
      applied,
      confState: snap.metadata.confState,
      snapshotEvery: o.snapshotEvery ?? 100_000,
      snapshotKeep: o.snapshotKeep ?? 1000,
    });
    // Removed = was in the configuration, and a later one leaves it out. (While a new cluster's
    // bootstrap entries are applied one by one, or before a joining member's first snapshot,
    // the configuration does not list this member yet: that is not a removal.)
    let wasMember = inConfiguration(snap.metadata.confState, o.id);
    this.driver.onConfChange((conf, index) => {
      if (inConfiguration(conf, this.id)) wasMember = true;
      else if (wasMember)
        this.markRemoved(`the configuration applied at index ${index} no longer lists it`, conf.voters);
    });
    // A round lost on the way (forwarded request or answer) fails after two election timeouts.
    const readTimeoutMs = 2 * (o.electionTick ?? 10) * (o.tickMs ?? 50);
    this.reads = new ReadBatcher((signal) => this.driver.readIndex(signal), this.timer, readTimeoutMs);
    this.leases = new LeaseDuties(
      {
        sm: this.sm,
        get isLeader() {
          return self.isLeader;
        },
        raftProgress: () => {
          const st = this.driver.status();
          return { term: st.term, commit: st.commit, commitTerm: st.commitTerm, applied: this.driver.applied };
        },
        propose: (command) => this.propose(command),
      },
      { logger: o.logger, timer: this.timer, leaseCheckMs: o.leaseCheckMs, checkpointMs: o.checkpointMs },
    );
    this.driver.onLeaderChange((lead) => {
      o.logger.info(`leader is now ${lead ?? '(none)'}`);
      if (lead === this.id) this.sm.promote(this.timer.now());
    });
  }

  start(): void {
    this.driver.start();
    this.leases.start();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.leases.stop();
    this.driver.stop();
    this.storage.close();
  }

  get leader(): NodeId | null {
    return this.removedError === null ? this.driver.leader : null;
  }

  get isLeader(): boolean {
    return this.removedError === null && this.driver.leader === this.id;
  }

  /** UNAVAILABLE (reason 'member-removed') once this member was removed from the cluster; null while it is a member. */
  get removed(): ParleyError | null {
    return this.removedError;
  }

  /**
   * Another node says this member is not in its configuration as of its applied index. Trusted
   * only from a member of this member's own configuration whose applied index is at or past the
   * change that established it: that member then applied a later configuration without this one,
   * so this member was removed (its own copy of the removal may never commit here: the leader
   * stops sending to a member once its removal is applied).
   */
  noticeNotMember(from: NodeId, appliedIndex: number): void {
    if (this.removedError !== null || from === this.id) return;
    const conf = this.driver.confState;
    if (!inConfiguration(conf, from) || !inConfiguration(conf, this.id)) return;
    if (!Number.isSafeInteger(appliedIndex) || appliedIndex < this.driver.confIndex) return;
    this.markRemoved(
      `member '${from}' applied a configuration without it (index ${appliedIndex})`,
      conf.voters.filter((v) => v !== this.id),
    );
  }

  private markRemoved(why: string, others: readonly NodeId[]): void {
    if (this.removedError !== null) return;
    const where = others.length > 0 ? `; send requests to another member (${others.join(', ')})` : '';
    this.removedError = new ParleyError(
      'UNAVAILABLE',
      `member '${this.id}' was removed from the cluster: ${why}. It no longer serves${where}`,
      { details: { reason: 'member-removed', member: this.id } },
    );
    this.o.logger.error(this.removedError.message);
    // Stop raft after the Ready being handled (this runs inside it): no more ticks, votes or appends.
    queueMicrotask(() => {
      this.leases.stop();
      this.driver.stop();
    });
    this.resolveRemoved(this.removedError);
  }

  get applied(): number {
    return this.driver.applied;
  }

  /** Snapshots received from the leader and installed (a lagging or new member catching up). */
  get snapshotsRestored(): number {
    return this.restored;
  }

  get confState(): ConfState {
    return this.driver.confState;
  }

  status(): Status {
    return this.driver.status();
  }

  /**
   * Whether `id` may send raft messages here: a member of the configuration (RaftDriver.isPeer).
   * Before this member has a configuration (it joins a running cluster and waits for the
   * leader's snapshot), only the members it was told to join through (`knownPeers`), or anyone
   * when it was told none: a stranger must not hand it a forged state.
   */
  isPeer(id: NodeId): boolean {
    if (this.driver.hasConfiguration) return this.driver.isPeer(id);
    const known = this.o.knownPeers;
    return known === undefined || known.length === 0 || known.includes(id);
  }

  /** A message from another member, already checked at the boundary (`$raft`, wire-message.ts). */
  step(message: Message): void {
    this.driver.step(message);
  }

  /**
   * Validates a KV command, replicates it and returns its result; a deterministic failure is
   * thrown as its ParleyError. A malformed or oversized command is refused (INVALID_ARGUMENT)
   * here, before it is proposed: it never reaches any member's log. So is a command `caller`
   * may not run (UNAUTHENTICATED, PERMISSION_DENIED); one that is allowed is stamped with the
   * caller and the auth revision it was checked against, and checked again when applied. If the
   * auth state changed in between, it is checked and proposed again (as etcd does with
   * ErrAuthOldRevision), at most AUTH_ATTEMPTS times. `caller` absent: the server's own command.
   */
  async propose(command: object, caller: KvCaller = SERVER): Promise<KvResult> {
    if (this.removedError !== null) throw this.removedError;
    const cmd = validateCommand(command, this.sm.limits);
    for (let attempt = 1; ; attempt++) {
      // The stamp is always the member's own: one that came with the request is replaced (or dropped).
      const stamp = this.sm.authorize(caller, cmd);
      const outcome = await this.driver.propose(encodeToPropose(cmd, this.sm.limits, stamp));
      if (outcome === undefined) throw new ParleyError('INTERNAL', 'the command was skipped by the state machine');
      if (outcome.ok) return outcome.result;
      const stale = (outcome.error.details as { reason?: string } | undefined)?.reason === 'auth-revision-changed';
      if (!stale || attempt >= AUTH_ATTEMPTS) throw outcome.error;
    }
  }

  /** Renews a lease (leader); see LeaseDuties for how it stays ahead of any expiry. */
  keepAlive(id: number): Promise<KvResult> {
    return this.leases.keepAlive(id);
  }

  /** Wall-clock now, as the lease duties see it (lease grants and TTL queries use it too). */
  now(): number {
    return this.timer.now();
  }

  /**
   * Resolves once this member has applied everything committed when it was called (ReadIndex),
   * on the leader or on a follower (which asks the leader for the index). Concurrent calls share
   * rounds (ReadBatcher); after that a local read is linearizable.
   */
  readIndex(): Promise<void> {
    if (this.removedError !== null) return Promise.reject(this.removedError);
    return this.reads.wait();
  }

  addMember(id: NodeId, address: string): Promise<ConfState> {
    return this.driver.proposeConfChange({
      transition: 'Auto',
      changes: [{ type: 'AddNode', nodeId: id }],
      context: new TextEncoder().encode(address),
    });
  }

  removeMember(id: NodeId): Promise<ConfState> {
    return this.driver.proposeConfChange({ transition: 'Auto', changes: [{ type: 'RemoveNode', nodeId: id }] });
  }

  transferLeadership(to: NodeId): void {
    this.driver.transferLeadership(to);
  }

  /** One send per peer and frame-sized batch; a message that can never fit is logged, never dropped in silence. */
  private route(messages: readonly Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      let list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, list] of byPeer) {
      const { batches, oversized } = batchBySize(list, this.maxMessageBytes);
      for (const batch of batches) this.o.send(to, batch);
      for (const m of oversized) {
        this.o.logger.error(
          `raft ${m.type} to '${to}' (~${messageBytes(m)} bytes) exceeds the ${this.maxMessageBytes}-byte limit of one message and cannot be sent; ` +
            (m.type === 'MsgSnap'
              ? 'the state is too large to send as one snapshot: raise maxFrameSize on every member'
              : 'this is a bug: commands are limited so that their entries always fit'),
        );
      }
    }
  }
}

/** Whether `id` is a voter or learner of `conf` (either side of a joint configuration). */
function inConfiguration(conf: ConfState, id: NodeId): boolean {
  return (
    conf.voters.includes(id) ||
    conf.votersOutgoing.includes(id) ||
    conf.learners.includes(id) ||
    conf.learnersNext.includes(id)
  );
}
