import type { Random } from '../../base/random.js';
import type { ConfChange } from '../../raft/core/conf-change.js';
import type { Message } from '../../raft/core/messages.js';
import type { Status } from '../../raft/core/ready.js';
import { type DriverScheduler, RaftDriver, type StateMachine } from '../../raft/driver.js';
import { batchBySize, messageBytes } from '../../raft/message-batches.js';
import type { ConfState, NodeId } from '../../raft/types.js';
import type { WalEncryption } from '../../raft/wal/data-keyring.js';
import { WalStorage } from '../../raft/wal/wal-storage.js';
import type { Logger } from '../../transport/logger.js';
import { ParleyError } from '../../wire/parley-error.js';
import { bootstrapCluster, createRawNode } from './raft-factory.js';

export interface GroupMemberOptions<R> {
  readonly id: NodeId;
  /** What the group is called in errors and log lines: 'the cluster' (the KV group) or `group 'orders-0'`. */
  readonly groupName: string;
  /** WAL + snapshot directory of this group alone. */
  readonly dataDir: string;
  /** Encryption at rest of the WAL and snapshots (WalStorageOptions.encryption). */
  readonly encryption?: WalEncryption;
  /** The voters of a brand-new group (bootstrapped once, when `dataDir` holds no log); null: this member joins a running group. */
  readonly initialVoters: readonly NodeId[] | null;
  /** The members this one was told about (its peers): whom it listens to before it has a configuration. */
  readonly knownPeers?: readonly NodeId[];
  /** Applies the group's committed commands; restored from the WAL's snapshot when the member opens. */
  readonly stateMachine: StateMachine<R>;
  /** Sends one batch of messages to another member (best effort: raft retries); each batch fits `maxMessageBytes`. */
  readonly send: (to: NodeId, messages: Message[]) => void;
  readonly logger: Logger;
  /** Milliseconds per raft tick (default 50). */
  readonly tickMs?: number;
  /** Election timeout in ticks (default 10) and heartbeat interval in ticks (default 2). */
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  /** Snapshot + compact every N applied entries (default 100000) and keep this many entries below it (default 1000). */
  readonly snapshotEvery?: number;
  readonly snapshotKeep?: number;
  /** Ticks and deferred Ready processing (default: a timer of its own; a GroupHost shares one among its groups). */
  readonly scheduler?: DriverScheduler;
  /** The raft core's randomized election timeouts (default Math.random). */
  readonly random?: Random;
  /** Largest summed `messageBytes` of one `send` (what one frame carries minus the call's envelope). */
  readonly maxMessageBytes: number;
  /** Entries per append message (raft's maxSizePerMsg). */
  readonly maxSizePerMsg: number;
  /** Called once, in the same turn raft stops, when this member learns it was removed (see `whenRemoved`). */
  readonly onRemoved?: () => void;
}

/**
 * One member of one Raft group, whatever it replicates: the raft core, the group's own WAL
 * (the one place a group opens its storage), the driver and a `StateMachine<R>`. It knows
 * nothing of the network (messages leave through `send`, arrive through `step`) nor of what the
 * state machine means: the KV member (kv-member.ts) and the group host (group-host.ts) build on it.
 *
 * Invariants: every replicated change goes through `propose` (raft log order); state read from
 * the state machine is linearizable only after `readIndex()` resolved. Once removed from the
 * group's configuration (`whenRemoved`), it proposes, reads and leads nothing, and raft is stopped.
 */
export class GroupMember<R> {
  readonly id: NodeId;
  private readonly storage: WalStorage;
  private readonly driver: RaftDriver<R>;
  private stopped = false;
  private restored = 0;
  private removedError: ParleyError | null = null;
  private resolveRemoved!: (err: ParleyError) => void;
  /**
   * Resolves once this member knows it was removed from the group: it applied a configuration
   * without itself, or a member of its configuration that applied a later one said so
   * (`noticeNotMember`). From then on it serves nothing (see `removed`); never rejects.
   */
  readonly whenRemoved: Promise<ParleyError> = new Promise((resolve) => {
    this.resolveRemoved = resolve;
  });

  constructor(private readonly o: GroupMemberOptions<R>) {
    this.id = o.id;
    this.storage = WalStorage.open(o.dataDir, o.encryption ? { encryption: o.encryption } : {});
    const fresh = this.storage.lastIndex() === 0 && this.storage.snapshot().metadata.index === 0;
    if (fresh && o.initialVoters !== null) {
      const boot = bootstrapCluster(o.initialVoters);
      this.storage.save(boot.hardState, boot.entries, null);
    }
    const snap = this.storage.snapshot();
    const machine = o.stateMachine;
    if (snap.metadata.index > 0) machine.restore(snap);
    const applied = snap.metadata.index;
    const node = createRawNode({
      id: o.id,
      maxSizePerMsg: o.maxSizePerMsg,
      storage: this.storage,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 2,
      random: o.random ?? Math.random,
      applied,
      preVote: true,
      checkQuorum: true,
    });
    this.driver = new RaftDriver<R>({
      id: o.id,
      node,
      log: this.storage,
      send: (messages) => this.route(messages),
      stateMachine: {
        apply: (payload, entry) => machine.apply(payload, entry),
        snapshot: () => machine.snapshot(),
        ...(machine.beginSnapshot ? { beginSnapshot: () => machine.beginSnapshot!() } : {}),
        restore: (s) => {
          machine.restore(s);
          this.restored++;
        },
      },
      tickMs: o.tickMs ?? 50,
      scheduler: o.scheduler,
      applied,
      confState: snap.metadata.confState,
      snapshotEvery: o.snapshotEvery ?? 100_000,
      snapshotKeep: o.snapshotKeep ?? 1000,
    });
    // Removed = was in the configuration, and a later one leaves it out. (While a new group's
    // bootstrap entries are applied one by one, or before a joining member's first snapshot,
    // the configuration does not list this member yet: that is not a removal.)
    let wasMember = inConfiguration(snap.metadata.confState, o.id);
    this.driver.onConfChange((conf, index) => {
      if (inConfiguration(conf, this.id)) wasMember = true;
      else if (wasMember)
        this.markRemoved(`the configuration applied at index ${index} no longer lists it`, conf.voters);
    });
  }

  start(): void {
    this.driver.start();
  }

  /** Stops raft and closes the WAL; idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.driver.stop();
    this.storage.close();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get leader(): NodeId | null {
    return this.removedError === null ? this.driver.leader : null;
  }

  get isLeader(): boolean {
    return this.removedError === null && this.driver.leader === this.id;
  }

  /** Calls `fn` whenever the known leader changes (see RaftDriver.onLeaderChange). */
  onLeaderChange(fn: (lead: NodeId | null) => void): () => void {
    return this.driver.onLeaderChange(fn);
  }

  /** UNAVAILABLE (reason 'member-removed') once this member was removed from the group; null while it is a member. */
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
      `member '${this.id}' was removed from ${this.o.groupName}: ${why}. It no longer serves${where}`,
      { details: { reason: 'member-removed', member: this.id } },
    );
    this.o.logger.error(this.removedError.message);
    // Stop raft after the Ready being handled (this runs inside it): no more ticks, votes or appends.
    queueMicrotask(() => {
      this.o.onRemoved?.();
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
   * Before this member has a configuration (it joins a running group and waits for the
   * leader's snapshot), only the members it was told to join through (`knownPeers`), or anyone
   * when it was told none: a stranger must not hand it a forged state.
   */
  isPeer(id: NodeId): boolean {
    if (this.driver.hasConfiguration) return this.driver.isPeer(id);
    const known = this.o.knownPeers;
    return known === undefined || known.length === 0 || known.includes(id);
  }

  /** A message from another member, already checked at the boundary (`$raft`, raft-service.ts). */
  step(message: Message): void {
    this.driver.step(message);
  }

  /** Replicates `payload`; resolves with the state machine's result once it is applied here. */
  propose(payload: Uint8Array): Promise<R> {
    if (this.removedError !== null) return Promise.reject(this.removedError);
    return this.driver.propose(payload);
  }

  /** ReadIndex (RaftDriver.readIndex): resolves once everything committed when it was called is applied here. */
  readIndex(signal?: AbortSignal): Promise<void> {
    if (this.removedError !== null) return Promise.reject(this.removedError);
    return this.driver.readIndex(signal);
  }

  proposeConfChange(cc: ConfChange): Promise<ConfState> {
    return this.driver.proposeConfChange(cc);
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
    const limit = this.o.maxMessageBytes;
    for (const [to, list] of byPeer) {
      const { batches, oversized } = batchBySize(list, limit);
      for (const batch of batches) this.o.send(to, batch);
      for (const m of oversized) {
        this.o.logger.error(
          `raft ${m.type} to '${to}' (~${messageBytes(m)} bytes) exceeds the ${limit}-byte limit of one message and cannot be sent; ` +
            (m.type === 'MsgSnap'
              ? 'the state is too large to send as one snapshot: raise maxFrameSize on every member'
              : 'this is a bug: commands are limited so that their entries always fit'),
        );
      }
    }
  }
}

/** Whether `id` is a voter or learner of `conf` (either side of a joint configuration). */
export function inConfiguration(conf: ConfState, id: NodeId): boolean {
  return (
    conf.voters.includes(id) ||
    conf.votersOutgoing.includes(id) ||
    conf.learners.includes(id) ||
    conf.learnersNext.includes(id)
  );
}
