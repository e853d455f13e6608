import { ParleyError } from '../wire/parley-error.js';
import { sameConsumerConfig, validateConsumerConfig } from './consumer-config.js';
import { ConsumerState, type ConsumerStateData } from './consumer-state.js';
import type { ConsumerTablePlace, ConsumerTables } from './partition-state-machine.js';
import type {
  AckEntry,
  AckOutcome,
  ConsumerConfig,
  ConsumerInfo,
  DeadLetterSink,
  Delivery,
  MessageLogView,
} from './types.js';

/**
 * Every consumer of one partition, as the partition's state machine sees them: create and
 * delete, fetch, ack, the periodic tick, retention's removals, the work-queue floor, snapshots.
 * The delivery rules of one consumer live in consumer-state.ts.
 *
 * Invariants:
 * - Time never goes backwards for consumers: every call uses max(now, largest now seen), which
 *   the snapshot keeps, so what came due stays due across a leader change and a restore.
 * - Deterministic: consumers are visited in name order (never Map insertion order, which a
 *   restored replica would not share), and delivery tokens come from one counter for the whole
 *   table, so a token is never handed out twice, not even to a consumer re-created under an
 *   old name (a worker of the deleted one cannot ack the new one's delivery).
 * - `snapshot()` is plain data (arrays, objects, numbers, strings) in a fixed order, and
 *   `restore(snapshot(), …)` behaves identically to the original for every later call. The
 *   message log must be restored first: held messages are looked up in it.
 */

export interface ConsumerTableData {
  readonly version: 1;
  readonly lastToken: number;
  /** The largest command time seen (time never goes backwards for consumers). */
  readonly clock: number;
  readonly consumers: readonly ConsumerStateData[];
}

function notFound(name: string): ParleyError {
  return new ParleyError('NOT_FOUND', `consumer '${name}' does not exist on this stream; create it first`);
}

function positiveCount(value: number, what: string): void {
  if (!(value >= 1)) throw new ParleyError('INVALID_ARGUMENT', `fetch ${what} is ${value}; ask for at least 1`);
}

export class ConsumerTable {
  private readonly consumers = new Map<string, ConsumerState>();
  /** Consumer names, sorted (the deterministic visiting order). */
  private names: string[] = [];
  private lastToken = 0;
  private clock = 0;
  private readonly tokens = { nextToken: () => ++this.lastToken };

  constructor(
    private readonly log: MessageLogView,
    private readonly dlq: DeadLetterSink,
    /** The stream partition reported in `info`. */
    private readonly place: ConsumerTablePlace = { stream: '', partition: 0 },
  ) {}

  get size(): number {
    return this.consumers.size;
  }

  /** Creates the consumer, or returns it when one with the same config exists (ALREADY_EXISTS for a different config). */
  create(config: ConsumerConfig, now: number): ConsumerInfo {
    now = this.advance(now);
    const valid = validateConsumerConfig(config);
    const existing = this.consumers.get(valid.name);
    if (existing !== undefined) {
      if (sameConsumerConfig(existing.config, valid)) return this.infoOf(existing);
      throw new ParleyError(
        'ALREADY_EXISTS',
        `consumer '${valid.name}' exists with a different config; delete it first or use another name`,
      );
    }
    const state = new ConsumerState(
      valid,
      this.log,
      this.dlq,
      this.tokens,
      ConsumerState.startSeq(valid, this.log),
      now,
    );
    this.add(state);
    return this.infoOf(state);
  }

  delete(name: string): void {
    if (!this.consumers.delete(name)) throw notFound(name);
    this.names = this.names.filter((n) => n !== name);
  }

  fetch(name: string, now: number, max: number, maxBytes: number): Delivery[] {
    positiveCount(max, 'max');
    positiveCount(maxBytes, 'maxBytes');
    const state = this.get(name);
    return state.fetch(this.advance(now), max, maxBytes);
  }

  ack(name: string, now: number, acks: readonly AckEntry[]): AckOutcome[] {
    const state = this.get(name);
    return state.ack(this.advance(now), acks);
  }

  /** Removes ephemeral consumers idle for their `inactiveMs`, dead-letters expired last deliveries; returns how many were dead-lettered. */
  tick(now: number): number {
    now = this.advance(now);
    let deadLettered = 0;
    for (const name of [...this.names]) {
      const state = this.consumers.get(name)!;
      if (!state.config.durable && now - state.lastActive >= state.config.inactiveMs) {
        this.delete(name);
        continue;
      }
      deadLettered += state.tick(now);
    }
    return deadLettered;
  }

  /** Retention removed message `seq`: no consumer delivers it again (no dead letter). */
  messageRemoved(seq: number): void {
    for (const state of this.consumers.values()) state.messageRemoved(seq);
  }

  /**
   * The smallest sequence some consumer has not yet acked, terminated or dead-lettered: a
   * work-queue stream may remove every message below it. With no consumer, nothing is done:
   * the log's first sequence (so nothing is removed).
   */
  workQueueFloor(): number {
    if (this.consumers.size === 0) return this.log.firstSeq;
    let floor = Number.POSITIVE_INFINITY;
    for (const state of this.consumers.values()) floor = Math.min(floor, state.ackFloor + 1);
    return floor;
  }

  /**
   * Whether every consumer is done with `seq` (false with no consumer): a work-queue stream
   * removes such a message at once, even above the floor, so one message held forever (a worker
   * that keeps sending progress) does not keep every later acked message in the log.
   */
  doneWith(seq: number): boolean {
    if (this.consumers.size === 0) return false;
    for (const state of this.consumers.values()) if (!state.doneWith(seq)) return false;
    return true;
  }

  info(name: string): ConsumerInfo {
    return this.infoOf(this.get(name));
  }

  /** Consumer names in order. */
  list(): readonly string[] {
    return this.names;
  }

  snapshot(): ConsumerTableData {
    return {
      version: 1,
      lastToken: this.lastToken,
      clock: this.clock,
      consumers: this.names.map((name) => this.consumers.get(name)!.snapshot()),
    };
  }

  static restore(data: unknown, log: MessageLogView, dlq: DeadLetterSink, place?: ConsumerTablePlace): ConsumerTable {
    const d = data as ConsumerTableData;
    if (
      typeof d !== 'object' ||
      d === null ||
      d.version !== 1 ||
      !Number.isSafeInteger(d.lastToken) ||
      typeof d.clock !== 'number' ||
      !Number.isFinite(d.clock) ||
      !Array.isArray(d.consumers)
    ) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        'consumer table snapshot is not version 1; restore it with the same Parley version that wrote it',
      );
    }
    const table = new ConsumerTable(log, dlq, place);
    table.lastToken = d.lastToken;
    table.clock = d.clock;
    for (const c of d.consumers) table.add(ConsumerState.restore(c, log, dlq, table.tokens));
    return table;
  }

  /**
   * The consumers' time: the largest `now` seen. A new leader's clock may be behind the old
   * one's, but a delivery that came due must stay due, and a replica restored from a snapshot
   * (which holds this time) must decide exactly as the one that took it.
   */
  private advance(now: number): number {
    if (now > this.clock) this.clock = now;
    return this.clock;
  }

  private add(state: ConsumerState): void {
    this.consumers.set(state.config.name, state);
    this.names.push(state.config.name);
    this.names.sort();
  }

  private get(name: string): ConsumerState {
    const state = this.consumers.get(name);
    if (state === undefined) throw notFound(name);
    return state;
  }

  private infoOf(state: ConsumerState): ConsumerInfo {
    return {
      stream: this.place.stream,
      partition: this.place.partition,
      config: state.config,
      ackFloor: state.ackFloor,
      pending: state.pendingCount,
      waiting: state.waiting,
      redelivered: state.redeliveredCount,
    };
  }
}

/** How the partition state machine makes and restores consumer tables (its default). */
export const CONSUMER_TABLES: ConsumerTables = {
  create: (log, dlq, place) => new ConsumerTable(log, dlq, place),
  restore: (data, log, dlq, place) => ConsumerTable.restore(data, log, dlq, place),
};
