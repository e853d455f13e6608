import { ParleyError } from '../wire/parley-error.js';
import { validateConsumerConfig } from './consumer-config.js';
import { MinHeap } from './min-heap.js';
import { SeqQueue } from './seq-queue.js';
import { SubjectMatcher } from './subject.js';
import type {
  AckEntry,
  AckOutcome,
  ConsumerConfig,
  DeadLetter,
  DeadLetterSink,
  Delivery,
  MessageLogView,
  StoredMessage,
} from './types.js';

/**
 * One consumer of one partition: its cursor, ack floor and every message it holds, with the
 * delivery rules of docs/QUEUES.md ("Semantics"). Pure: time is the `now` of each call.
 *
 * A message is **held** from the moment the cursor passes it (it matches the filter) until it
 * is acked, terminated, dead-lettered or removed from the log. A held message is either *new*
 * (`deliveries` 0: not yet due because of `deliverAt`, due, or — ordered-by-key only — parked
 * behind an older held message of its key) or *pending* (delivered, unacked; its `at` is when
 * it is redelivered, or dead-lettered if it reached `maxDeliver`).
 *
 * Invariants:
 * - `held` only holds sequences below `cursor`, entered in increasing order (`order`), so the
 *   ack floor is `(oldest live in order ?? cursor) - 1`, advanced in amortized O(1).
 * - Every held, non-parked message has exactly one *live* item in `timed`, `fresh` or `redo`:
 *   the one whose `version` equals the message's. Any change of its schedule bumps the version,
 *   which makes older items stale; stale items are skipped when they surface.
 * - `timed` orders by (at, seq); a fetch or tick first moves every item with at ≤ now out of it:
 *   new → `fresh`, pending → `redo` (both by seq), pending at maxDeliver → dead letter. So the
 *   behaviour depends only on the held messages and `now`, not on when items moved, and a
 *   restored consumer (heaps rebuilt from `held`) behaves identically.
 * - ordered-by-key: per key, `keys` lists the held messages of that key oldest first; only the
 *   oldest is ever scheduled, the others are parked until it leaves.
 * - `pendingCount` ≤ maxAckPending: new messages are delivered only within the free credit.
 */

export interface HeldMessage {
  readonly seq: number;
  /** The ordering key (tracked in ordered-by-key mode only). */
  readonly key: string | undefined;
  deliveries: number;
  token: number;
  deadline: number;
  /** New: deliverAt (0 if none). Pending: when it is redelivered or, at maxDeliver, dead-lettered. */
  at: number;
  lastError: string | undefined;
  parked: boolean;
  version: number;
}

/** A heap entry: `at` is copied, since `held.at` changes while stale items stay in the heaps. */
interface Item {
  readonly held: HeldMessage;
  readonly version: number;
  readonly at: number;
}

/** Hands out delivery tokens (one counter for the whole table, so a token is never reused). */
export interface TokenSource {
  nextToken(): number;
}

export interface ConsumerStateData {
  readonly config: ConsumerConfig;
  readonly cursor: number;
  readonly lastActive: number;
  /** [seq, deliveries, token, deadline, at, lastError?] per held message, by seq. */
  readonly held: readonly (readonly [number, number, number, number, number, string?])[];
}

const byTime = (a: Item, b: Item) => a.at < b.at || (a.at === b.at && a.held.seq < b.held.seq);
const bySeq = (a: Item, b: Item) => a.held.seq < b.held.seq;

export class ConsumerState {
  cursor: number;
  lastActive: number;
  pendingCount = 0;
  redeliveredCount = 0;
  private readonly held = new Map<number, HeldMessage>();
  private readonly order = new SeqQueue();
  private readonly keys = new Map<string, SeqQueue>();
  private readonly timed = new MinHeap<Item>(byTime);
  private readonly fresh = new MinHeap<Item>(bySeq);
  private readonly redo = new MinHeap<Item>(bySeq);
  private readonly isHeld = (seq: number) => this.held.has(seq);
  private readonly filter: SubjectMatcher | undefined;

  constructor(
    readonly config: ConsumerConfig,
    private readonly log: MessageLogView,
    private readonly dlq: DeadLetterSink,
    private readonly tokens: TokenSource,
    cursor: number,
    now: number,
  ) {
    this.cursor = cursor;
    this.lastActive = now;
    this.filter = config.filterSubject === undefined ? undefined : new SubjectMatcher([config.filterSubject]);
  }

  /** Where a consumer created now starts reading. */
  static startSeq(config: ConsumerConfig, log: MessageLogView): number {
    const from = config.deliverFrom;
    switch (from.from) {
      case 'first':
        return Math.max(1, log.firstSeq);
      case 'last':
        return Math.max(1, log.lastSeq);
      case 'new':
        return log.lastSeq + 1;
      case 'sequence':
        return from.seq;
      case 'time':
        return Math.max(1, log.firstSeqAtOrAfterTime(from.time));
    }
  }

  get ackFloor(): number {
    return (this.order.head(this.isHeld) ?? this.cursor) - 1;
  }

  /** Held messages never delivered, plus an upper bound of those the cursor has not reached (ignores the filter and gaps). */
  get waiting(): number {
    return this.held.size - this.pendingCount + Math.max(0, this.log.lastSeq - this.cursor + 1);
  }

  /** Whether this consumer is done with `seq`: its cursor passed it and it is no longer held (acked, terminated, dead-lettered, removed, or not matching the filter). */
  doneWith(seq: number): boolean {
    return seq < this.cursor && !this.held.has(seq);
  }

  /** Sequences of held messages in seq order. */
  heldSeqs(): IterableIterator<number> {
    return this.held.keys();
  }

  fetch(now: number, max: number, maxBytes: number): Delivery[] {
    this.lastActive = now;
    this.promote(now);
    const out: Delivery[] = [];
    let bytes = 0;
    const fits = (m: StoredMessage) => out.length === 0 || bytes + m.payload.byteLength <= maxBytes;
    const take = (held: HeldMessage, m: StoredMessage) => {
      bytes += m.payload.byteLength;
      out.push(this.deliver(held, m, now));
    };
    // 1. Due redeliveries, by seq.
    for (let item = this.live(this.redo); item !== undefined && out.length < max; item = this.live(this.redo)) {
      const m = this.messageOf(item.held);
      if (m === undefined) continue;
      if (!fits(m)) return out;
      this.redo.pop();
      take(item.held, m);
    }
    // 2. New messages within the credit: the due ones already passed by the cursor, then the cursor.
    let credit = this.config.maxAckPending - this.pendingCount;
    for (let item = this.live(this.fresh); item !== undefined && out.length < max && credit > 0; ) {
      const m = this.messageOf(item.held);
      if (m !== undefined) {
        if (!fits(m)) return out;
        this.fresh.pop();
        take(item.held, m);
        credit--;
      }
      item = this.live(this.fresh);
    }
    while (out.length < max && credit > 0) {
      const m = this.log.nextAtOrAfter(this.cursor);
      if (m === undefined) break;
      if (this.filter !== undefined && !this.filter.matches(m.subject)) {
        this.cursor = m.seq + 1;
        continue;
      }
      const due = (m.deliverAt ?? 0) <= now;
      const blocked = this.blockedKey(m) !== undefined;
      if (due && !blocked && !fits(m)) break;
      this.cursor = m.seq + 1;
      const held = this.hold(m);
      if (held.parked) continue;
      if (!due) {
        this.schedule(held, this.timed);
        continue;
      }
      take(held, m);
      credit--;
    }
    return out;
  }

  ack(now: number, acks: readonly AckEntry[]): AckOutcome[] {
    this.lastActive = now;
    return acks.map((entry) => this.ackOne(now, entry));
  }

  /** Dead-letters the deliveries past maxDeliver whose time came; returns how many. */
  tick(now: number): number {
    return this.promote(now);
  }

  /** Retention removed `seq`: forget it (no dead letter; an ordered key moves on). */
  messageRemoved(seq: number): void {
    const held = this.held.get(seq);
    if (held !== undefined) this.release(held);
  }

  snapshot(): ConsumerStateData {
    const held: [number, number, number, number, number, string?][] = [];
    for (const h of this.held.values()) {
      const row: [number, number, number, number, number, string?] = [h.seq, h.deliveries, h.token, h.deadline, h.at];
      if (h.lastError !== undefined) row.push(h.lastError);
      held.push(row);
    }
    return { config: this.config, cursor: this.cursor, lastActive: this.lastActive, held };
  }

  static restore(
    data: ConsumerStateData,
    log: MessageLogView,
    dlq: DeadLetterSink,
    tokens: TokenSource,
  ): ConsumerState {
    const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
    if (!num(data.cursor) || !num(data.lastActive) || !Array.isArray(data.held)) {
      throw new ParleyError('INVALID_ARGUMENT', 'consumer snapshot is malformed (cursor, lastActive, held)');
    }
    const state = new ConsumerState(
      validateConsumerConfig(data.config),
      log,
      dlq,
      tokens,
      data.cursor,
      data.lastActive,
    );
    for (const row of data.held) {
      if (
        !Array.isArray(row) ||
        row.length < 5 ||
        !row.slice(0, 5).every(num) ||
        (row[5] !== undefined && typeof row[5] !== 'string')
      ) {
        throw new ParleyError(
          'INVALID_ARGUMENT',
          `consumer snapshot of '${data.config.name}' has a malformed held message`,
        );
      }
      const [seq, deliveries, token, deadline, at, lastError] = row;
      const m = log.get(seq);
      if (m === undefined) continue;
      const held = state.hold(m);
      held.deliveries = deliveries;
      held.token = token;
      held.deadline = deadline;
      held.at = at;
      held.lastError = lastError;
      if (deliveries > 0) {
        state.pendingCount++;
        if (deliveries > 1) state.redeliveredCount++;
      }
      if (!held.parked) state.schedule(held, state.timed);
    }
    return state;
  }

  // ---- internals ----

  /** The key a new message of `m`'s key waits behind (ordered-by-key), or undefined. */
  private blockedKey(m: StoredMessage): string | undefined {
    if (this.config.mode !== 'ordered-by-key' || m.key === undefined) return undefined;
    const queue = this.keys.get(m.key);
    return queue?.head(this.isHeld) !== undefined ? m.key : undefined;
  }

  /** Starts holding `m` (the cursor just passed it). Not scheduled: the caller decides. */
  private hold(m: StoredMessage): HeldMessage {
    const key = this.config.mode === 'ordered-by-key' ? m.key : undefined;
    const held: HeldMessage = {
      seq: m.seq,
      key,
      deliveries: 0,
      token: 0,
      deadline: 0,
      at: m.deliverAt ?? 0,
      lastError: undefined,
      parked: false,
      version: 0,
    };
    if (key !== undefined) {
      let queue = this.keys.get(key);
      if (queue === undefined) this.keys.set(key, (queue = new SeqQueue()));
      held.parked = queue.head(this.isHeld) !== undefined;
      queue.push(m.seq);
    }
    this.held.set(m.seq, held);
    this.order.push(m.seq);
    return held;
  }

  private schedule(held: HeldMessage, heap: MinHeap<Item>): void {
    held.version++;
    heap.push({ held, version: held.version, at: held.at });
  }

  /** The top live item of `heap` (stale items dropped), not popped. */
  private live(heap: MinHeap<Item>): Item | undefined {
    for (let item = heap.peek(); item !== undefined; item = heap.peek()) {
      if (this.held.get(item.held.seq) === item.held && item.version === item.held.version) return item;
      heap.pop();
    }
    return undefined;
  }

  /** Moves every timed item whose time came: new → fresh, pending → redo, pending at maxDeliver → dead letter. */
  private promote(now: number): number {
    this.compactIfStale();
    let deadLettered = 0;
    for (let item = this.live(this.timed); item !== undefined && item.at <= now; item = this.live(this.timed)) {
      this.timed.pop();
      const held = item.held;
      if (held.deliveries === 0) this.schedule(held, this.fresh);
      else if (held.deliveries < this.config.maxDeliver) this.schedule(held, this.redo);
      else if (this.deadLetter(held, 'max-deliveries', now)) deadLettered++;
    }
    return deadLettered;
  }

  private deliver(held: HeldMessage, m: StoredMessage, now: number): Delivery {
    if (held.deliveries === 0) this.pendingCount++;
    held.deliveries++;
    if (held.deliveries === 2) this.redeliveredCount++;
    held.token = this.tokens.nextToken();
    this.extend(held, now);
    return { message: m, deliveries: held.deliveries, token: held.token, deadline: held.deadline };
  }

  /** A fresh ack wait from `now`: redelivered after it (plus the backoff), or dead-lettered at it if this was the last delivery. */
  private extend(held: HeldMessage, now: number): void {
    held.deadline = now + this.config.ackWaitMs;
    held.at = held.deliveries >= this.config.maxDeliver ? held.deadline : held.deadline + this.backoff(held.deliveries);
    this.schedule(held, this.timed);
  }

  private backoff(failedDeliveries: number): number {
    const list = this.config.backoffMs;
    if (list.length === 0) return 0;
    return list[Math.min(failedDeliveries, list.length) - 1]!;
  }

  private ackOne(now: number, entry: AckEntry): AckOutcome {
    const held = this.held.get(entry.seq);
    if (held === undefined || held.deliveries === 0) {
      return {
        error: new ParleyError(
          'NOT_FOUND',
          `message ${entry.seq} is not pending for consumer '${this.config.name}' (already acked, terminated, dead-lettered, removed, or never delivered); nothing left to do`,
          { details: { seq: entry.seq } },
        ),
      };
    }
    if (entry.token !== held.token) {
      return {
        error: new ParleyError(
          'FAILED_PRECONDITION',
          `delivery token ${entry.token} of message ${entry.seq} is stale: the message was delivered again since (delivery ${held.deliveries}); drop this result, the current delivery will be acked by its worker`,
          { details: { reason: 'stale-delivery', seq: entry.seq, deliveries: held.deliveries } },
        ),
      };
    }
    switch (entry.kind) {
      case 'ack':
        this.release(held);
        return { ok: true };
      case 'progress':
        this.extend(held, now);
        return { ok: true };
      case 'nak': {
        const delay = entry.delayMs;
        if (delay !== undefined && (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0)) {
          return {
            error: new ParleyError('INVALID_ARGUMENT', `nak delayMs is ${String(delay)}; give milliseconds ≥ 0`),
          };
        }
        if (entry.error !== undefined) held.lastError = entry.error;
        if (held.deliveries >= this.config.maxDeliver) {
          this.deadLetter(held, 'max-deliveries', now);
          return { ok: true };
        }
        held.at = now + (delay ?? this.backoff(held.deliveries));
        this.schedule(held, this.timed);
        return { ok: true };
      }
      case 'term':
        if (entry.error !== undefined) held.lastError = entry.error;
        this.deadLetter(held, 'terminated', now);
        return { ok: true };
      default:
        return {
          error: new ParleyError(
            'INVALID_ARGUMENT',
            `ack kind ${String(entry.kind)} is unknown; use 'ack', 'nak', 'progress' or 'term'`,
          ),
        };
    }
  }

  /** Moves `held` to the dead-letter log and forgets it; false if its message is gone (then just forgotten). */
  private deadLetter(held: HeldMessage, reason: DeadLetter['reason'], now: number): boolean {
    const message = this.log.get(held.seq);
    this.release(held);
    if (message === undefined) return false;
    const letter: Omit<DeadLetter, 'seq'> = {
      message,
      consumer: this.config.name,
      deliveries: held.deliveries,
      reason,
      ...(held.lastError === undefined ? {} : { lastError: held.lastError }),
      time: now,
    };
    this.dlq.deadLetter(letter);
    return true;
  }

  /** The stored message of a held one; a message removed without `messageRemoved` is forgotten. */
  private messageOf(held: HeldMessage): StoredMessage | undefined {
    const m = this.log.get(held.seq);
    if (m === undefined) this.release(held);
    return m;
  }

  /** Stops holding `held`; the next message of its key (ordered-by-key) becomes schedulable. */
  private release(held: HeldMessage): void {
    if (this.held.get(held.seq) !== held) return;
    this.held.delete(held.seq);
    if (held.deliveries > 0) {
      this.pendingCount--;
      if (held.deliveries > 1) this.redeliveredCount--;
    }
    if (held.key === undefined || held.parked) return;
    const queue = this.keys.get(held.key)!;
    const next = queue.head(this.isHeld);
    if (next === undefined) {
      this.keys.delete(held.key);
      return;
    }
    const nextHeld = this.held.get(next)!;
    nextHeld.parked = false;
    this.schedule(nextHeld, this.timed);
  }

  /** Rebuilds the heaps when stale items (from progress, nak, removals) outnumber the live ones. */
  private compactIfStale(): void {
    const items = this.timed.size + this.fresh.size + this.redo.size;
    if (items <= 2 * this.held.size + 64) return;
    this.timed.clear();
    this.fresh.clear();
    this.redo.clear();
    for (const held of this.held.values()) if (!held.parked) this.schedule(held, this.timed);
  }
}
