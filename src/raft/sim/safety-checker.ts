import type { Entry, NodeId } from '../types.js';
import { hashBytes, hashNumber } from './trace.js';

/** The invariant that failed; `rule` names it, the message says what was observed. */
export class Violation extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(`${rule}: ${message}`);
    this.name = 'Violation';
  }
}

/** A configuration as the checker sees it: a joint configuration needs a majority of both halves. */
export interface VoterSets {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
}

/** Answers whether a member's durable disk holds an entry (or a snapshot covering it). */
export type DurableProbe = (id: NodeId, index: number, term: number) => boolean;

/** The hash of an applied prefix extended by one entry. */
export function chainHash(prev: number, e: Entry): number {
  let h = hashNumber(prev, e.index);
  h = hashNumber(h, e.term);
  h = hashNumber(h, e.type);
  return hashBytes(h, e.data);
}

/**
 * The global history of a run and the safety invariants over it. The simulator reports what it
 * observes (roles, committed entries, applied entries, snapshots, reads) and the checker throws
 * a Violation the moment an observation contradicts the history:
 *
 *  - election safety: at most one leader per term, over the whole run;
 *  - committed entries never change: every entry any member hands out as committed must equal
 *    the one first committed at its index (term and payload);
 *  - state machine safety: applied sequences are prefixes of one another. Each member's state
 *    machine carries a hash chain over its applied entries; `chain[i]` is the chain at index i
 *    as first seen, and every member must reach the same value at i (snapshots included);
 *  - durability: the latest commit index a leader announced (with the configurations it may
 *    have counted votes in) is held by a majority of those voters' DURABLE disks, crashed
 *    members included;
 *  - the current-term commit rule is checked by SimMember (it knows when a leader's term began);
 *  - linearizable reads: a ReadIndex answer is >= every index any member had handed out as
 *    committed when the read was issued.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** index → term of the committed entry; index 0 unused. */
  private readonly committedTerm: number[] = [];
  private readonly committedData: number[] = [];
  /** index → chain hash of the applied prefix 1..index. chain[0] = 0. */
  private readonly chain: number[] = [0];
  private milestone: { index: number; term: number; configs: readonly VoterSets[]; by: NodeId } | null = null;
  private readonly reads = new Map<string, { minIndex: number; issuedBy: NodeId }>();
  private readonly watched = new Set<number>();
  /** The index at which a watched payload was first committed, or null. */
  watchedIndex: number | null = null;
  stats = { leaders: 0, readsChecked: 0, maxCommitted: 0 };

  /** Remember where `data` commits (the liveness phase waits for its proposal). */
  watch(data: Uint8Array): void {
    this.watched.add(hashBytes(0x811c9dc5, data));
  }

  /** Election safety: `id` is leader in `term`. */
  leader(id: NodeId, term: number): void {
    const prev = this.leaderOfTerm.get(term);
    if (prev === undefined) {
      this.leaderOfTerm.set(term, id);
      this.stats.leaders++;
    } else if (prev !== id) {
      throw new Violation('election safety', `two leaders in term ${term}: ${prev} and ${id}`);
    }
  }

  /** `id` hands out `e` as committed (Ready.committedEntries). */
  committed(id: NodeId, e: Entry): void {
    const data = hashBytes(0x811c9dc5, e.data);
    const t = this.committedTerm[e.index];
    if (t === undefined) {
      this.committedTerm[e.index] = e.term;
      this.committedData[e.index] = data;
      if (this.watchedIndex === null && this.watched.has(data)) this.watchedIndex = e.index;
      if (e.index > this.stats.maxCommitted) this.stats.maxCommitted = e.index;
    } else if (t !== e.term || this.committedData[e.index] !== data) {
      throw new Violation(
        'committed entry changed',
        `${id} commits index ${e.index} as term ${e.term} (data hash ${data}) but it was committed earlier as term ${t} (data hash ${this.committedData[e.index]})`,
      );
    }
  }

  /** `id`'s state machine reached `index` with applied-prefix hash `hash` (by applying an entry or restoring a snapshot). */
  applied(id: NodeId, index: number, hash: number, how: string): void {
    const known = this.chain[index];
    if (known === undefined) {
      if (index !== this.chain.length) {
        throw new Violation(
          'state machine safety',
          `${id} ${how} index ${index} before anyone applied ${this.chain.length}`,
        );
      }
      this.chain.push(hash);
    } else if (known !== hash) {
      throw new Violation(
        'state machine safety',
        `${id} ${how} index ${index} with applied-prefix hash ${hash}, but another member applied a different prefix (hash ${known})`,
      );
    }
  }

  /** The highest index applied anywhere: every read issued from now on must see at least this. */
  get maxApplied(): number {
    return this.chain.length - 1;
  }

  termOfCommitted(index: number): number | undefined {
    return this.committedTerm[index];
  }

  readIssued(key: string, by: NodeId): void {
    this.reads.set(key, { minIndex: this.stats.maxCommitted, issuedBy: by });
  }

  readAnswered(id: NodeId, key: string, index: number): void {
    const r = this.reads.get(key);
    if (r === undefined) return; // issued by an earlier incarnation's twin, or answered twice
    this.reads.delete(key);
    this.stats.readsChecked++;
    if (index < r.minIndex) {
      throw new Violation(
        'linearizable read',
        `read ${key} issued at ${r.issuedBy} got read index ${index} on ${id}, but index ${r.minIndex} was already committed when it was issued`,
      );
    }
  }

  /** A leader announces commit index `index` (term `term`), counted in one of `configs`. */
  commitAnnounced(by: NodeId, index: number, term: number, configs: readonly VoterSets[]): void {
    if (this.milestone === null || index > this.milestone.index) this.milestone = { index, term, configs, by };
  }

  /** Durability: the latest announced commit is on a majority of its configuration's durable disks. */
  checkDurable(holds: DurableProbe): void {
    const m = this.milestone;
    if (m === null) return;
    const majorityHolds = (ids: readonly NodeId[]): boolean =>
      ids.length === 0 || ids.filter((id) => holds(id, m.index, m.term)).length * 2 > ids.length;
    if (m.configs.some((c) => majorityHolds(c.voters) && majorityHolds(c.votersOutgoing))) return;
    const cfgs = m.configs.map(
      (c) => `[${c.voters.join(',')}${c.votersOutgoing.length ? ` & ${c.votersOutgoing.join(',')}` : ''}]`,
    );
    throw new Violation(
      'committed entry durable on a majority',
      `index ${m.index} (term ${m.term}), committed by ${m.by}, is on the durable disk of no majority of ${cfgs.join(' or ')}`,
    );
  }
}
