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
import type { DriverScheduler } from '../../raft/driver.js';
import type { ConfState, NodeId } from '../../raft/types.js';
import type { WalEncryption } from '../../raft/wal/data-keyring.js';
import type { Logger } from '../../transport/logger.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../wire/frame.js';
import { ParleyError } from '../../wire/parley-error.js';
import { GroupMember } from './group-member.js';
import { LeaseDuties } from './lease-duties.js';
import { RAFT_CALL_ENVELOPE_BYTES } from './raft-service.js';
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

export { RAFT_CALL_ENVELOPE_BYTES };

/** How many times a command is proposed while the auth state keeps changing under it. */
const AUTH_ATTEMPTS = 5;

const SERVER: KvCaller = { kind: 'server' };

/** Entries per append message (raft's maxSizePerMsg), at most this much or what one send can carry. */
const MAX_APPEND_BYTES = 1024 * 1024;

/**
 * One member of a replicated KV cluster: a `GroupMember` (raft core, WAL, driver) running the
 * KV state machine, plus what is KV-specific: command validation and auth retries before a
 * proposal, the leader's lease duties (promote on election, propose expiries and checkpoints)
 * and batched ReadIndex rounds. It knows nothing of the network: messages leave through `send`
 * and arrive through `step`.
 *
 * Invariant: every replicated change goes through `propose` (raft log order); local reads
 * (`sm.read`) are linearizable only after `readIndex()` resolved (on any member).
 */
export class KvMember {
  readonly id: NodeId;
  readonly sm: KvStateMachine;
  private readonly group: GroupMember<ApplyOutcome | undefined>;
  private readonly timer: Timer;
  private readonly leases: LeaseDuties;
  private readonly reads: ReadBatcher;
  /**
   * Resolves once this member knows it was removed from the cluster: it applied a configuration
   * without itself, or a member of its configuration that applied a later one said so
   * (`noticeNotMember`). From then on it serves nothing (see `removed`); never rejects.
   */
  readonly whenRemoved: Promise<ParleyError>;

  constructor(o: KvMemberOptions) {
    this.id = o.id;
    this.timer = o.timer ?? wallTimer;
    const maxFrameSize = o.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    // A command at the limit, wrapped in its proposal envelope, entry and MsgApp, still fits one send.
    const maxCommandBytes = maxCommandBytesFor(maxFrameSize);
    const sm = new KvStateMachine({ limits: { maxCommandBytes } });
    this.sm = sm;
    this.group = new GroupMember<ApplyOutcome | undefined>({
      id: o.id,
      groupName: 'the cluster',
      dataDir: o.dataDir,
      ...(o.encryption ? { encryption: o.encryption } : {}),
      initialVoters: o.initialVoters,
      knownPeers: o.knownPeers,
      stateMachine: {
        apply: (payload, entry) => sm.applyEntry({ ...entry, data: payload }),
        snapshot: () => sm.snapshot(),
        beginSnapshot: () => sm.beginSnapshot(),
        restore: (s) => sm.restore(s.data),
      },
      send: o.send,
      logger: o.logger,
      tickMs: o.tickMs,
      electionTick: o.electionTick,
      heartbeatTick: o.heartbeatTick,
      snapshotEvery: o.snapshotEvery,
      snapshotKeep: o.snapshotKeep,
      scheduler: o.scheduler,
      random: o.random,
      maxMessageBytes: maxFrameSize - RAFT_CALL_ENVELOPE_BYTES,
      maxSizePerMsg: Math.min(MAX_APPEND_BYTES, maxCommandBytes),
      onRemoved: () => this.leases.stop(),
    });
    this.whenRemoved = this.group.whenRemoved;
    const group = this.group;
    // A round lost on the way (forwarded request or answer) fails after two election timeouts.
    const readTimeoutMs = 2 * (o.electionTick ?? 10) * (o.tickMs ?? 50);
    this.reads = new ReadBatcher((signal) => group.readIndex(signal), this.timer, readTimeoutMs);
    this.leases = new LeaseDuties(
      {
        sm: this.sm,
        get isLeader() {
          return group.isLeader;
        },
        raftProgress: () => {
          const st = group.status();
          return { term: st.term, commit: st.commit, commitTerm: st.commitTerm, applied: group.applied };
        },
        propose: (command) => this.propose(command),
      },
      { logger: o.logger, timer: this.timer, leaseCheckMs: o.leaseCheckMs, checkpointMs: o.checkpointMs },
    );
    group.onLeaderChange((lead) => {
      o.logger.info(`leader is now ${lead ?? '(none)'}`);
      if (lead === this.id) this.sm.promote(this.timer.now());
    });
  }

  start(): void {
    this.group.start();
    this.leases.start();
  }

  stop(): void {
    if (this.group.isStopped) return;
    this.leases.stop();
    this.group.stop();
  }

  get leader(): NodeId | null {
    return this.group.leader;
  }

  get isLeader(): boolean {
    return this.group.isLeader;
  }

  /** UNAVAILABLE (reason 'member-removed') once this member was removed from the cluster; null while it is a member. */
  get removed(): ParleyError | null {
    return this.group.removed;
  }

  /** See GroupMember.noticeNotMember: trusted only from a member of this member's configuration that is at or past it. */
  noticeNotMember(from: NodeId, appliedIndex: number): void {
    this.group.noticeNotMember(from, appliedIndex);
  }

  get applied(): number {
    return this.group.applied;
  }

  /** Snapshots received from the leader and installed (a lagging or new member catching up). */
  get snapshotsRestored(): number {
    return this.group.snapshotsRestored;
  }

  get confState(): ConfState {
    return this.group.confState;
  }

  status(): Status {
    return this.group.status();
  }

  /** Whether `id` may send raft messages here (GroupMember.isPeer). */
  isPeer(id: NodeId): boolean {
    return this.group.isPeer(id);
  }

  /** A message from another member, already checked at the boundary (`$raft`, wire-message.ts). */
  step(message: Message): void {
    this.group.step(message);
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
    const removed = this.group.removed;
    if (removed !== null) throw removed;
    const cmd = validateCommand(command, this.sm.limits);
    for (let attempt = 1; ; attempt++) {
      // The stamp is always the member's own: one that came with the request is replaced (or dropped).
      const stamp = this.sm.authorize(caller, cmd);
      const outcome = await this.group.propose(encodeToPropose(cmd, this.sm.limits, stamp));
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
    const removed = this.group.removed;
    if (removed !== null) return Promise.reject(removed);
    return this.reads.wait();
  }

  addMember(id: NodeId, address: string): Promise<ConfState> {
    return this.group.proposeConfChange({
      transition: 'Auto',
      changes: [{ type: 'AddNode', nodeId: id }],
      context: new TextEncoder().encode(address),
    });
  }

  removeMember(id: NodeId): Promise<ConfState> {
    return this.group.proposeConfChange({ transition: 'Auto', changes: [{ type: 'RemoveNode', nodeId: id }] });
  }

  transferLeadership(to: NodeId): void {
    this.group.transferLeadership(to);
  }
}
