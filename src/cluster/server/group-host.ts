import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Random } from '../../base/random.js';
import { bytesToUtf8 } from '../../kv/bytes.js';
import { keyRange } from '../../kv/key-range.js';
import type { KvStateMachine } from '../../kv/kv-state-machine.js';
import type { DriverScheduler, StateMachine } from '../../raft/driver.js';
import type { NodeId } from '../../raft/types.js';
import type { WalEncryption } from '../../raft/wal/data-keyring.js';
import type { Logger } from '../../transport/logger.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../wire/frame.js';
import { ParleyError } from '../../wire/parley-error.js';
import { GroupMember } from './group-member.js';
import { PLACEMENT_PREFIX, type Placement, parsePlacement } from './group-placement.js';
import { partBudget, RaftOutbox } from './raft-outbox.js';
import { RAFT_CALL_ENVELOPE_BYTES, type RaftEndpoint, type RaftGroups, type RaftStepPart } from './raft-service.js';
import { SharedScheduler } from './shared-scheduler.js';

/** Where a host reads placements from: the KV member of the same server. */
export interface PlacementSource {
  /** The KV state this member has applied. */
  readonly sm: KvStateMachine;
  /** Resolves once this member applied everything committed when it was called (KvMember.readIndex). */
  readIndex(): Promise<void>;
}

export interface GroupHostOptions<R> {
  readonly id: NodeId;
  /** The server's data directory: a group keeps its WAL in `<dataDir>/groups/<groupDirName>/`. */
  readonly dataDir: string;
  /** Encryption at rest of every group's WAL and snapshots (the server's, as the KV group's). */
  readonly encryption?: WalEncryption;
  readonly placements: PlacementSource;
  /** A fresh state machine for a group this member starts hosting (restored from the group's snapshot if any). */
  readonly stateMachine: (groupId: string) => StateMachine<R>;
  /** Sends one `$raft.step` call (its parts) to a member; best effort, raft retries. */
  readonly send: (to: NodeId, parts: RaftStepPart[]) => void;
  /** Whether a member is reachable now: a preferred leader gets the leadership only then. */
  readonly isHealthy: (id: NodeId) => boolean;
  readonly logger: Logger;
  /** KV prefix of the placement records (default PLACEMENT_PREFIX). */
  readonly prefix?: string;
  readonly raft?: {
    readonly tickMs?: number;
    readonly electionTick?: number;
    readonly heartbeatTick?: number;
    readonly snapshotEvery?: number;
    readonly snapshotKeep?: number;
  };
  /** The transport's largest frame (default DEFAULT_MAX_FRAME_SIZE; the same on every member). */
  readonly maxFrameSize?: number;
  /** Under the shared scheduler: the timers and deferral it is built on (default: Node's). */
  readonly scheduler?: DriverScheduler;
  readonly random?: Random;
  /** Ticks between two looks at the placement records and the groups' leaders (default 4). */
  readonly checkEveryTicks?: number;
}

/** One group hosted here. */
export interface HostedGroup<R> {
  readonly placement: Placement;
  readonly member: GroupMember<R>;
  readonly stateMachine: StateMachine<R>;
  /** The wire id of this incarnation of the group: `<groupId>#<createRevision of its record>`. */
  readonly wireId: string;
}

interface Wanted {
  /** The record as it is now. */
  readonly placement: Placement;
  readonly createRevision: number;
  /** The voters to bootstrap with (the record's at creation), or null: join the running group. */
  readonly initialVoters: readonly NodeId[] | null;
}

interface Hosted<R> extends HostedGroup<R> {
  placement: Placement;
  readonly dir: string;
  /** The tick of the last leadership transfer asked for (spaced by two election timeouts). */
  lastTransfer: number;
}

/**
 * The Raft groups one `parley server` member hosts besides the KV group (the partitions of
 * streams, docs/QUEUES.md), started and stopped from placement records in the KV store.
 *
 * - A record under the prefix names a group's voters and preferred leader (group-placement.ts).
 *   The host runs a group whose voters name this member, with its WAL in
 *   `<dataDir>/groups/<groupDirName>/`; it bootstraps the group with the voters the record had
 *   when it was created (read from the KV's history: every first member uses the same list),
 *   else (history compacted, or this member was not among them) joins it and waits for the
 *   leader. A group whose record is deleted, or no longer names this member, is stopped and its
 *   data deleted.
 * - An incarnation of a group is its record's create revision: a record deleted and created
 *   again is a NEW group (wire id `<groupId>#<createRevision>`, its own directory), so a member
 *   still running the old one can never feed its log or terms to the new one.
 * - The records are read from this member's applied KV state, first after a ReadIndex (a
 *   restarted member must not delete the data of a group whose record it has not re-applied
 *   yet: the KV state only moves forward after that), then whenever a watch on the prefix
 *   reports a change; directories of incarnations no record names are removed at that first read.
 * - Leader spreading: a group led here whose preferred leader is another member, reachable,
 *   replicating and not already being handed the leadership, transfers it there (at most once
 *   per two election timeouts).
 * - Efficiency: all groups tick from ONE timer and process their Readys in one turn of the
 *   SharedScheduler; their outgoing messages are gathered per destination in a RaftOutbox and
 *   leave as one `$raft.step` call per member per turn.
 */
export class GroupHost<R> implements RaftGroups {
  private readonly scheduler: SharedScheduler;
  private readonly outbox: RaftOutbox;
  private readonly maxCallBytes: number;
  private readonly prefix: string;
  private readonly hosted = new Map<string, Hosted<R>>();
  private readonly byWireId = new Map<string, Hosted<R>>();
  private readonly invalidWarned = new Set<string>();
  /** Directories of groups that failed to open: left alone for an operator. */
  private readonly unopenable = new Set<string>();
  private cancelTick: (() => void) | null = null;
  private cancelFlush: (() => void) | null = null;
  private watchId: number | null = null;
  private ticks = 0;
  private caughtUp = false;
  private stopped = false;

  constructor(private readonly o: GroupHostOptions<R>) {
    this.scheduler = new SharedScheduler(o.scheduler);
    this.prefix = o.prefix ?? PLACEMENT_PREFIX;
    this.maxCallBytes = (o.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE) - RAFT_CALL_ENVELOPE_BYTES;
    this.outbox = new RaftOutbox(this.maxCallBytes, (to, parts) => o.send(to, parts));
  }

  /** Starts the tick and, once this member's KV state caught up (ReadIndex), the groups its placements name. */
  start(): void {
    if (this.cancelTick !== null || this.stopped) return;
    this.cancelFlush = this.scheduler.afterTurn(() => this.outbox.flush());
    const every = Math.max(1, this.o.checkEveryTicks ?? 4);
    this.cancelTick = this.scheduler.every(this.tickMs, () => {
      this.ticks++;
      if (this.ticks % every === 0) this.check();
    });
    void this.catchUp();
  }

  /** Stops every group (their data stays) and the tick. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTick?.();
    this.cancelFlush?.();
    if (this.watchId !== null) this.o.placements.sm.watches.cancel(this.watchId);
    for (const h of this.hosted.values()) h.member.stop();
    this.hosted.clear();
    this.byWireId.clear();
  }

  /** The group `groupId` if this member hosts it. */
  group(groupId: string): HostedGroup<R> | undefined {
    return this.hosted.get(groupId);
  }

  /** Ids of the groups hosted here, sorted. */
  groupIds(): string[] {
    return [...this.hosted.keys()].sort();
  }

  /** True once the placements were first read (after the KV ReadIndex). */
  get ready(): boolean {
    return this.caughtUp;
  }

  /** Tick timers the host runs (one, whatever the number of groups). */
  get timers(): number {
    return this.scheduler.timers;
  }

  /** RaftGroups: the member of a group incarnation, by wire id (`$raft.step`). */
  get(wireId: string): RaftEndpoint | undefined {
    return this.byWireId.get(wireId)?.member;
  }

  private get tickMs(): number {
    return this.o.raft?.tickMs ?? 50;
  }

  private async catchUp(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.o.placements.readIndex();
        break;
      } catch {
        // No KV leader yet, or it changed: ask again after a tick or a few.
        await new Promise<void>((resolve) => {
          const cancel = this.scheduler.every(this.tickMs * Math.min(10, attempt + 1), () => {
            cancel();
            resolve();
          });
        });
      }
    }
    if (this.stopped) return;
    this.caughtUp = true;
    this.watchId = this.o.placements.sm.watches.watch({ range: { prefix: this.prefix } });
    this.reconcile(true);
  }

  private check(): void {
    if (!this.caughtUp || this.stopped) return;
    let changed = false;
    const hub = this.o.placements.sm.watches;
    if (this.watchId === null) {
      this.watchId = hub.watch({ range: { prefix: this.prefix } });
      changed = true;
    } else {
      try {
        const poll = hub.poll(this.watchId);
        if (poll.canceled !== undefined) {
          this.watchId = null;
          changed = true;
        } else if (poll.events.length > 0) changed = true;
      } catch {
        this.watchId = null; // gone (NOT_FOUND): watch again next time
        changed = true;
      }
    }
    if (changed) this.reconcile(false);
    this.spreadLeaders();
  }

  /** Brings the hosted groups in line with the records (and, the first time, removes orphaned directories). */
  private reconcile(collectOrphans: boolean): void {
    const wanted = new Map<string, Wanted>();
    const { kvs } = this.o.placements.sm.store.range(keyRange({ prefix: this.prefix }));
    for (const kv of kvs) {
      const key = bytesToUtf8(kv.key);
      const placement = this.parseRecord(key, bytesToUtf8(kv.value), kv.modRevision);
      if (placement === null || !placement.voters.includes(this.o.id)) continue;
      wanted.set(placement.groupId, {
        placement,
        createRevision: kv.createRevision,
        initialVoters: kv.version === 1 ? placement.voters : this.votersAtCreation(key, kv.createRevision),
      });
    }
    for (const [groupId, h] of [...this.hosted]) {
      const w = wanted.get(groupId);
      if (w !== undefined && wireIdOf(groupId, w.createRevision) === h.wireId) {
        if (!sameVoters(w.placement.voters, h.placement.voters)) {
          this.o.logger.warn(
            `the placement of group '${groupId}' changed its voters to ${w.placement.voters.join(', ')}; ` +
              `a group's voters are fixed when its record is created (it keeps ${h.placement.voters.join(', ')})`,
          );
        }
        h.placement = { ...w.placement, voters: h.placement.voters };
        continue;
      }
      this.remove(h);
    }
    for (const [groupId, w] of wanted) if (!this.hosted.has(groupId)) this.add(w);
    if (collectOrphans) this.removeOrphans();
  }

  private parseRecord(key: string, value: string, modRevision: number): Placement | null {
    try {
      const placement = parsePlacement(value);
      if (key !== this.prefix + placement.groupId) {
        throw new ParleyError('INVALID_ARGUMENT', `placement: its key must be ${this.prefix}${placement.groupId}`);
      }
      return placement;
    } catch (err) {
      const warnKey = `${key}@${modRevision}`;
      if (!this.invalidWarned.has(warnKey) && this.invalidWarned.size < 1000) {
        this.invalidWarned.add(warnKey);
        this.o.logger.warn(`ignoring the record ${key}: ${ParleyError.from(err).message}`);
      }
      return null;
    }
  }

  /**
   * The voters a modified record had when it was created (the KV keeps history until a
   * compaction): what every first member bootstrapped the group with. Null when that revision
   * was compacted away, or when this member was not among them: then this member joins.
   */
  private votersAtCreation(key: string, createRevision: number): readonly NodeId[] | null {
    try {
      const { kvs } = this.o.placements.sm.store.range(keyRange({ key }), { revision: createRevision });
      const first = kvs[0];
      if (first === undefined) return null;
      const voters = parsePlacement(bytesToUtf8(first.value)).voters;
      return voters.includes(this.o.id) ? voters : null;
    } catch {
      return null;
    }
  }

  private add(w: Wanted): void {
    const placement = w.initialVoters === null ? w.placement : { ...w.placement, voters: w.initialVoters };
    const wireId = wireIdOf(placement.groupId, w.createRevision);
    const dir = join(this.o.dataDir, 'groups', groupDirName(placement.groupId, w.createRevision));
    const raft = this.o.raft ?? {};
    const stateMachine = this.o.stateMachine(placement.groupId);
    let member: GroupMember<R>;
    try {
      member = new GroupMember<R>({
        id: this.o.id,
        groupName: `group '${placement.groupId}'`,
        dataDir: dir,
        ...(this.o.encryption ? { encryption: this.o.encryption } : {}),
        initialVoters: w.initialVoters,
        knownPeers: placement.voters.filter((v) => v !== this.o.id),
        stateMachine,
        send: (to, messages) => {
          this.outbox.add(to, wireId, messages);
          this.scheduler.requestTurn(); // sends happen inside a turn (Ready processing): then this is free
        },
        logger: this.o.logger,
        tickMs: this.tickMs,
        electionTick: raft.electionTick,
        heartbeatTick: raft.heartbeatTick,
        snapshotEvery: raft.snapshotEvery,
        snapshotKeep: raft.snapshotKeep,
        scheduler: this.scheduler,
        random: this.o.random,
        maxMessageBytes: partBudget(this.maxCallBytes, wireId),
        maxSizePerMsg: Math.min(1024 * 1024, Math.floor(this.maxCallBytes / 2)),
      });
    } catch (err) {
      // Kept for an operator (e.g. DATA_LOSS): never removed as an orphan.
      this.unopenable.add(dir);
      this.o.logger.error(`group '${placement.groupId}' could not be opened in ${dir}: ${(err as Error).message}`);
      return;
    }
    const h: Hosted<R> = { placement, member, stateMachine, wireId, dir, lastTransfer: Number.NEGATIVE_INFINITY };
    member.onLeaderChange((lead) =>
      this.o.logger.debug(`group '${placement.groupId}': leader is now ${lead ?? '(none)'}`),
    );
    this.hosted.set(placement.groupId, h);
    this.byWireId.set(wireId, h);
    member.start();
    this.o.logger.info(
      `hosting group '${placement.groupId}' (voters ${placement.voters.join(', ')}; ${w.initialVoters === null ? 'joining' : 'bootstrapped'})`,
    );
  }

  private remove(h: Hosted<R>): void {
    h.member.stop();
    this.hosted.delete(h.placement.groupId);
    this.byWireId.delete(h.wireId);
    rmSync(h.dir, { recursive: true, force: true });
    this.o.logger.info(`stopped hosting group '${h.placement.groupId}' and deleted its data`);
  }

  /** Removes group directories no hosted incarnation owns (their records were deleted while this member was down). */
  private removeOrphans(): void {
    const root = join(this.o.dataDir, 'groups');
    let names: string[];
    try {
      names = readdirSync(root);
    } catch {
      return; // no groups directory yet
    }
    const owned = new Set([...this.hosted.values()].map((h) => h.dir));
    for (const name of names) {
      const dir = join(root, name);
      if (owned.has(dir) || this.unopenable.has(dir)) continue;
      rmSync(dir, { recursive: true, force: true });
      this.o.logger.info(`deleted ${dir}: no placement names this member for it any more`);
    }
  }

  private spreadLeaders(): void {
    const spacing = 2 * (this.o.raft?.electionTick ?? 10);
    for (const h of this.hosted.values()) {
      const preferred = h.placement.preferredLeader;
      if (preferred === this.o.id || !h.member.isLeader || this.ticks - h.lastTransfer < spacing) continue;
      if (!this.o.isHealthy(preferred) || !h.member.isPeer(preferred)) continue;
      const st = h.member.status();
      if (st.leadTransferee !== null || st.progress?.[preferred]?.state !== 'replicate') continue;
      h.lastTransfer = this.ticks;
      this.o.logger.debug(
        `group '${h.placement.groupId}': handing the leadership to its preferred leader ${preferred}`,
      );
      h.member.transferLeadership(preferred);
    }
  }
}

function sameVoters(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((v) => b.includes(v));
}

function wireIdOf(groupId: string, createRevision: number): string {
  return `${groupId}#${createRevision}`;
}

/**
 * The directory name of a group incarnation: the group id with every character other than
 * `[A-Za-z0-9_-]` escaped as `%XX` (so `.`, `..` and `:` cannot name anything else), a dot,
 * and the record's create revision.
 */
export function groupDirName(groupId: string, createRevision: number): string {
  const escaped = groupId.replace(
    /[^A-Za-z0-9_-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
  return `${escaped}.${createRevision}`;
}
