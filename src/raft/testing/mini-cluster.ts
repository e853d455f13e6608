import { bootstrapCluster } from '../bootstrap.js';
import { decodeConfChange } from '../core/conf-change.js';
import type { RaftConfig } from '../core/config.js';
import type { Message } from '../core/messages.js';
import { RawNode } from '../core/raw-node.js';
import type { ReadState } from '../core/ready.js';
import { MemoryStorage } from '../memory-storage.js';
import type { Entry, NodeId } from '../types.js';
import { EntryType } from '../types.js';

/** A seeded PRNG (mulberry32): deterministic randomness for tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MiniMember {
  readonly id: NodeId;
  node: RawNode;
  readonly storage: MemoryStorage;
  /** Payloads of applied normal entries, in order. */
  readonly applied: Entry[];
  /** Read states handed out by Readys, in order. */
  readonly reads: ReadState[];
}

/**
 * A few RawNodes wired by a synchronous, loss-free (unless told) in-memory network: the
 * smallest harness that follows the Ready contract exactly. For targeted scenarios; the
 * simulator (../sim/) covers faults at random.
 */
export class MiniCluster {
  readonly members = new Map<NodeId, MiniMember>();
  /** Links that drop everything: "a->b". */
  readonly cut = new Set<string>();
  readonly inbox: Message[] = [];
  /** Drops the messages it returns true for, at delivery (for scripted scenarios). */
  drop: ((m: Message) => boolean) | null = null;

  constructor(
    ids: readonly NodeId[],
    private readonly options: Partial<Omit<RaftConfig, 'id' | 'storage'>> = {},
    seed = 1,
  ) {
    const boot = bootstrapCluster(ids);
    let s = seed;
    for (const id of ids) {
      const storage = new MemoryStorage();
      storage.save(boot.hardState, boot.entries, null);
      this.add(id, storage, s++);
    }
  }

  add(id: NodeId, storage = new MemoryStorage(), seed = 99): MiniMember {
    const node = new RawNode({
      id,
      storage,
      electionTick: 10,
      heartbeatTick: 1,
      random: seededRandom(seed),
      ...this.options,
      applied: storage.snapshot().metadata.index,
    });
    const m: MiniMember = { id, node, storage, applied: [], reads: [] };
    this.members.set(id, m);
    return m;
  }

  member(id: NodeId): MiniMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** Handles every Ready of every member and delivers messages until the network is quiet. */
  settle(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const m of this.members.values()) {
        while (m.node.hasReady()) {
          progressed = true;
          const rd = m.node.ready();
          m.storage.save(rd.hardState, rd.entries, rd.snapshot);
          for (const msg of rd.messages) this.inbox.push(msg);
          m.reads.push(...rd.readStates);
          for (const e of rd.committedEntries) {
            if (e.type === EntryType.ConfChange) m.node.applyConfChange(decodeConfChange(e.data));
            else if (e.data.byteLength > 0) m.applied.push(e);
          }
          m.node.advance();
        }
      }
      const batch = this.inbox.splice(0);
      for (const msg of batch) {
        progressed = true;
        if (this.cut.has(`${msg.from}->${msg.to}`) || this.drop?.(msg)) continue;
        const to = this.members.get(msg.to);
        if (to === undefined) continue;
        try {
          to.node.step(msg);
        } catch {
          // dropped by the receiver (e.g. a response from a removed member)
        }
      }
      if (!progressed) return;
    }
    throw new Error('the cluster did not settle');
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.node.tick();
      this.settle();
    }
  }

  /** Ticks until some member leads; returns its id. */
  electLeader(maxTicks = 200): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      this.tick();
      const l = this.leader();
      if (l !== null) return l;
    }
    throw new Error('no leader elected');
  }

  leader(): NodeId | null {
    for (const m of this.members.values()) if (m.node.status().role === 'leader') return m.id;
    return null;
  }

  isolate(id: NodeId): void {
    for (const other of this.members.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const untext = (b: Uint8Array): string => new TextDecoder().decode(b);
