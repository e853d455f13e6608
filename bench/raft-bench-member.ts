/**
 * One raft member as the cluster benchmark runs it: RawNode + WalStorage (fdatasync on) + RaftDriver + a trivial
 * state machine (counts applied entries). The transport is the caller's: `send` takes the driver's messages, and
 * the caller hands incoming messages to `step`. Used by the member process (raft-member.ts) and, three at a time,
 * by the in-process ceiling (raft-cluster.ts).
 *
 * A fresh directory is bootstrapped with the initial voter list (bootstrapCluster); membership then comes from the
 * log, as in a real deployment.
 */
import { bootstrapCluster } from '../src/raft/bootstrap.js';
import type { Message } from '../src/raft/core/messages.js';
import { RawNode } from '../src/raft/core/raw-node.js';
import { type PersistentLog, RaftDriver, type StateMachine } from '../src/raft/driver.js';
import type { Entry, HardState, NodeId, Snapshot } from '../src/raft/types.js';
import { WalStorage } from '../src/raft/wal/wal-storage.js';
import { type RpcSample, runClosedLoop } from './harness/closed-loop.js';

export interface RaftTuning {
  /** Milliseconds per raft tick (driver). */
  readonly tickMs: number;
  readonly heartbeatTick: number;
  readonly electionTick: number;
  /** Max MsgApp in flight per follower (RaftConfig.maxInflightMsgs). */
  readonly maxInflightMsgs: number;
  /** Max entry bytes per MsgApp (RaftConfig.maxSizePerMsg). */
  readonly maxSizePerMsg: number;
  /** RaftDriverOptions.batchProposals: one MsgProp (so one MsgApp per follower) per Ready's worth of proposals. */
  readonly batchProposals: boolean;
}

/** 10 ms ticks, heartbeat every 20 ms, election after 0.5–1 s of silence (an fsync or GC pause never triggers one). */
export const DEFAULT_TUNING: RaftTuning = {
  tickMs: 10,
  heartbeatTick: 2,
  electionTick: 50,
  maxInflightMsgs: 256,
  maxSizePerMsg: 1024 * 1024,
  batchProposals: true,
};

/** What the durable write path did: one save() per Ready; fsyncs are the saves that carried entries or a vote. */
export interface SaveStats {
  saves: number;
  savesWithEntries: number;
  entries: number;
  saveMs: number;
}

class CountingLog implements PersistentLog {
  readonly stats: SaveStats = { saves: 0, savesWithEntries: 0, entries: 0, saveMs: 0 };
  constructor(private readonly wal: WalStorage) {}

  save(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void {
    const t0 = performance.now();
    this.wal.save(hardState, entries, snapshot);
    this.stats.saveMs += performance.now() - t0;
    this.stats.saves++;
    if (entries.length > 0) this.stats.savesWithEntries++;
    this.stats.entries += entries.length;
  }
}

/** Counts applied proposals; the result a proposer gets is the entry's index. */
class CountingStateMachine implements StateMachine<number> {
  applied = 0;
  apply(_payload: Uint8Array, entry: Entry): number {
    this.applied++;
    return entry.index;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

export interface LoadOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  payloadBytes: number;
}

export interface LoadResult {
  sample: RpcSample;
  /** This member's write path during the cell (warm-up included). */
  saves: SaveStats;
}

export class BenchRaftMember {
  private constructor(
    readonly id: NodeId,
    private readonly node: RawNode,
    private readonly wal: WalStorage,
    private readonly log: CountingLog,
    readonly driver: RaftDriver<number>,
  ) {}

  /** Opens (bootstrapping when empty) the member's WAL in `dir`; call start() to begin ticking. */
  static open(
    id: NodeId,
    voters: readonly NodeId[],
    dir: string,
    send: (messages: readonly Message[]) => void,
    tuning: RaftTuning = DEFAULT_TUNING,
  ): BenchRaftMember {
    const wal = WalStorage.open(dir);
    if (wal.lastIndex() === 0) {
      const boot = bootstrapCluster(voters);
      wal.save(boot.hardState, boot.entries, null);
    }
    const node = new RawNode({
      id,
      storage: wal,
      electionTick: tuning.electionTick,
      heartbeatTick: tuning.heartbeatTick,
      random: Math.random,
      preVote: true,
      maxInflightMsgs: tuning.maxInflightMsgs,
      maxSizePerMsg: tuning.maxSizePerMsg,
    });
    const log = new CountingLog(wal);
    const driver = new RaftDriver<number>({
      id,
      node,
      log,
      send,
      stateMachine: new CountingStateMachine(),
      tickMs: tuning.tickMs,
      batchProposals: tuning.batchProposals,
    });
    return new BenchRaftMember(id, node, wal, log, driver);
  }

  start(): void {
    this.driver.start();
  }

  /** Starts an election now (the benchmark picks its leader); the driver's next tick hands out the Ready. */
  campaign(): void {
    this.node.campaign();
  }

  step(message: Message): void {
    this.driver.step(message);
  }

  get leader(): NodeId | null {
    return this.driver.leader;
  }

  get saveStats(): SaveStats {
    return { ...this.log.stats };
  }

  /** Closed-loop proposers on this member: each proposes `payloadBytes` and waits until it is applied here. */
  async runLoad(o: LoadOptions): Promise<LoadResult> {
    const payload = new Uint8Array(o.payloadBytes).fill(0x61);
    const before = this.saveStats;
    const sample = await runClosedLoop(() => this.driver.propose(payload), {
      concurrency: o.concurrency,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
    });
    const after = this.saveStats;
    return {
      sample,
      saves: {
        saves: after.saves - before.saves,
        savesWithEntries: after.savesWithEntries - before.savesWithEntries,
        entries: after.entries - before.entries,
        saveMs: after.saveMs - before.saveMs,
      },
    };
  }

  close(): void {
    this.driver.stop();
    this.wal.close();
  }
}
