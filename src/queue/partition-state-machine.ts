import type { StateMachine } from '../raft/driver.js';
import type { Entry, Snapshot } from '../raft/types.js';
import { ParleyError } from '../wire/parley-error.js';
import { decodePartitionCommand } from './command-codec.js';
import { validatePartitionCommand } from './commands.js';
import { CONSUMER_TABLES } from './consumer-table.js';
import { DeadLetterLog } from './dead-letter-log.js';
import { DedupWindow } from './dedup-window.js';
import { headerBytes, MessageLog, messageBytes, type NewMessage } from './message-log.js';
import { partitionOfKey } from './partition-key.js';
import { decodePartitionSnapshot, encodePartitionSnapshot } from './snapshot-codec.js';
import { checkStreamUpdate } from './stream-config.js';
import { SubjectMatcher } from './subject.js';
import type {
  AckEntry,
  AckOutcome,
  ConsumerConfig,
  ConsumerInfo,
  DeadLetter,
  DeadLetterSink,
  Delivery,
  MessageLogView,
  PartitionCommand,
  PartitionInfo,
  PartitionOutcome,
  PartitionResult,
  PublishCommand,
  PublishEntry,
  PublishOutcome,
  StoredMessage,
  StreamConfig,
} from './types.js';

/**
 * One partition of one stream as a replicated state machine (docs/QUEUES.md, "Model"): the
 * message log, the dedup window, the dead-letter log and every consumer's state, changed only
 * by applying committed commands. It implements the Raft driver's `StateMachine`.
 *
 * Pure and deterministic: time enters only as each command's `now` (stamped by the proposing
 * leader); nothing reads a clock, and every error is a value in the outcome, never a throw, so
 * every member applying the same entries reaches the same state and the same outcomes. A
 * snapshot holds the whole state (snapshot-codec.ts): the same state gives the same bytes.
 *
 * Publish checks each message in this order: size (maxMessageBytes), subject (one of the
 * stream's), key (belongs to this partition), delay (maxDelayMs), then deduplication (a
 * remembered msgId answers with the first sequence, `duplicate: true`, nothing stored), then
 * `expectedLastSeq`, then room (discard 'new'). An atomic publish stores all its messages or
 * none: the whole command fails with the first refusal.
 *
 * Retention: age (and the dedup window) advance on every publish and tick; count and bytes on
 * append (discard 'old'); work-queue retention removes what every consumer acked after acks,
 * ticks and consumer deletions. Every removal reaches the consumers (`messageRemoved`), so no
 * consumer state outlives its message: memory is bounded by the stored messages plus each
 * consumer's pending deliveries (at most maxAckPending).
 */

/** What the partition needs of the consumers' table (src/queue/consumer-table.ts). */
export interface ConsumerTableLike {
  readonly size: number;
  create(config: ConsumerConfig, now: number): ConsumerInfo;
  delete(name: string): void;
  fetch(name: string, now: number, max: number, maxBytes: number): Delivery[];
  ack(name: string, now: number, acks: readonly AckEntry[]): AckOutcome[];
  /** Returns the number of messages dead-lettered. */
  tick(now: number): number;
  messageRemoved(seq: number): void;
  /** Every sequence below it is acked by every consumer. */
  workQueueFloor(): number;
  /** Whether every consumer is done with `seq` (acked, terminated, dead-lettered); false with none. */
  doneWith(seq: number): boolean;
  info(name: string): ConsumerInfo;
  snapshot(): unknown;
}

export interface ConsumerTablePlace {
  readonly stream: string;
  readonly partition: number;
}

/** Makes and restores consumer tables over a log and a dead-letter sink. */
export interface ConsumerTables {
  create(log: MessageLogView, dlq: DeadLetterSink, place: ConsumerTablePlace): ConsumerTableLike;
  restore(data: unknown, log: MessageLogView, dlq: DeadLetterSink, place: ConsumerTablePlace): ConsumerTableLike;
}

export interface PartitionStateMachineOptions {
  /** The consumers' table (default: consumer-table.ts; tests pass fakes). */
  readonly consumers?: ConsumerTables;
  /** Most message ids remembered for deduplication (dedup-window.ts). */
  readonly maxDedupEntries?: number;
  /** Most dead letters kept (dead-letter-log.ts). */
  readonly maxDeadLetters?: number;
}

interface Stream {
  readonly config: StreamConfig;
  readonly partition: number;
  readonly matcher: SubjectMatcher;
}

const NO_LIMITS = { maxMessages: 0, maxBytes: 0, maxAgeMs: 0, discard: 'old', compactByKey: false } as const;

function fail(error: unknown): PartitionOutcome {
  return { ok: false, error: ParleyError.from(error) };
}

export class PartitionStateMachine implements StateMachine<PartitionOutcome> {
  /** Index of the last Raft entry applied (0 before any). */
  appliedIndex = 0;
  private stream: Stream | undefined;
  private log: MessageLog;
  private dedup: DedupWindow;
  private dlq: DeadLetterLog;
  private consumers: ConsumerTableLike;
  private readonly tables: ConsumerTables;

  constructor(private readonly options: PartitionStateMachineOptions = {}) {
    this.tables = options.consumers ?? CONSUMER_TABLES;
    this.log = this.newLog(NO_LIMITS);
    this.dedup = new DedupWindow(options.maxDedupEntries);
    this.dlq = new DeadLetterLog(options.maxDeadLetters);
    this.consumers = this.tables.create(this.log, this.dlq, { stream: '', partition: 0 });
  }

  private newLog(limits: ConstructorParameters<typeof MessageLog>[0]): MessageLog {
    // Every removal, whatever its reason, reaches the consumers.
    return new MessageLog(limits, (m) => this.consumers.messageRemoved(m.seq));
  }

  // ---- the Raft driver's StateMachine ----

  /** Applies a committed entry's payload; an index applied before (replay after a snapshot) is skipped. */
  apply(payload: Uint8Array, entry: Entry): PartitionOutcome {
    if (entry.index > 0 && entry.index <= this.appliedIndex) {
      return fail(new ParleyError('ALREADY_EXISTS', `entry ${entry.index} was applied already`));
    }
    if (entry.index > 0) this.appliedIndex = entry.index;
    return this.applyCommand(payload);
  }

  /** Applies a command: bytes from the codec (a Raft entry) or an object, validated first. Never throws. */
  applyCommand(command: Uint8Array | unknown): PartitionOutcome {
    let cmd: PartitionCommand;
    try {
      cmd = command instanceof Uint8Array ? decodePartitionCommand(command) : validatePartitionCommand(command);
    } catch (err) {
      return fail(err);
    }
    try {
      return { ok: true, result: this.run(cmd) };
    } catch (err) {
      return fail(err);
    }
  }

  snapshot(): Uint8Array {
    const s = this.stream;
    return encodePartitionSnapshot({
      appliedIndex: this.appliedIndex,
      stream: s === undefined ? null : { config: s.config, partition: s.partition },
      lastSeq: this.log.lastSeq,
      lastTime: this.log.lastTime,
      messages: [...this.log.all()],
      dedupEvictedEarly: this.dedup.evictedEarly,
      dedup: this.dedup.dump(),
      deadLetterNextSeq: this.dlq.nextSeq,
      deadLettersDropped: this.dlq.dropped,
      deadLetters: [...this.dlq.all()],
      consumers: this.consumers.snapshot(),
    });
  }

  /** Replaces the whole state with a snapshot's (DATA_LOSS when it is corrupt; the state is then unchanged). */
  restore(snapshot: Snapshot | Uint8Array): void {
    const s = decodePartitionSnapshot(snapshot instanceof Uint8Array ? snapshot : snapshot.data);
    const stream = s.stream === null ? undefined : this.streamOf(s.stream.config, s.stream.partition);
    const previousConsumers = this.consumers;
    // Loading the new log reports no removals; the old consumers are replaced below.
    const log = this.newLog(stream?.config ?? NO_LIMITS);
    log.load(s.messages, s.lastSeq, s.lastTime);
    const dedup = new DedupWindow(this.options.maxDedupEntries);
    dedup.load(s.dedup, s.dedupEvictedEarly);
    const dlq = new DeadLetterLog(this.options.maxDeadLetters);
    dlq.load(s.deadLetters, s.deadLetterNextSeq, s.deadLettersDropped);
    const place = { stream: stream?.config.name ?? '', partition: stream?.partition ?? 0 };
    try {
      this.consumers =
        s.consumers === undefined
          ? this.tables.create(log, dlq, place)
          : this.tables.restore(s.consumers, log, dlq, place);
    } catch (err) {
      this.consumers = previousConsumers;
      throw new ParleyError('DATA_LOSS', 'queue partition snapshot is corrupt: the consumers', { cause: err });
    }
    this.appliedIndex = s.appliedIndex;
    this.stream = stream;
    this.log = log;
    this.dedup = dedup;
    this.dlq = dlq;
  }

  // ---- leader-local reads (never change replicated state) ----

  /** The stream's config, or undefined before stream-create. */
  get config(): StreamConfig | undefined {
    return this.stream?.config;
  }

  info(): PartitionInfo {
    const s = this.mustStream();
    return {
      stream: s.config.name,
      partition: s.partition,
      messages: this.log.messages,
      bytes: this.log.bytes,
      firstSeq: this.log.firstSeq,
      lastSeq: this.log.lastSeq,
      deadLetters: this.dlq.size,
      deadLettersDropped: this.dlq.dropped,
      consumers: this.consumers.size,
    };
  }

  /** The read side of the log (a message by sequence, by time). */
  get messages(): MessageLogView {
    return this.log;
  }

  deadLetters(fromSeq?: number, limit?: number): DeadLetter[] {
    return this.dlq.list(fromSeq, limit);
  }

  consumerInfo(name: string): ConsumerInfo {
    return this.consumers.info(name);
  }

  // ---- commands ----

  private run(cmd: PartitionCommand): PartitionResult {
    if (cmd.type === 'stream-create') return this.create(cmd.config, cmd.partition);
    const s = this.mustStream();
    switch (cmd.type) {
      case 'publish':
        return this.publish(s, cmd);
      case 'stream-update': {
        checkStreamUpdate(s.config, cmd.config);
        this.log.setLimits(cmd.config);
        this.stream = this.streamOf(cmd.config, s.partition);
        this.log.enforce(cmd.now);
        return { type: 'stream', info: this.info() };
      }
      case 'purge': {
        const purged = cmd.belowSeq === undefined ? this.log.clear() : this.log.removeBelow(cmd.belowSeq);
        return { type: 'purge', purged };
      }
      case 'consumer-create': {
        const info = this.consumers.create(cmd.config, cmd.now);
        return { type: 'consumer', info };
      }
      case 'consumer-delete':
        this.consumers.delete(cmd.name);
        this.workQueueRetention(s);
        return { type: 'deleted' };
      case 'fetch': {
        this.expire(cmd.now);
        const dlqBefore = this.dlq.nextSeq;
        const deliveries = this.consumers.fetch(cmd.consumer, cmd.now, cmd.max, cmd.maxBytes);
        this.removeDeadLettered(s, dlqBefore);
        return { type: 'fetch', deliveries };
      }
      case 'ack': {
        const dlqBefore = this.dlq.nextSeq;
        const outcomes = this.consumers.ack(cmd.consumer, cmd.now, cmd.acks);
        if (s.config.retention === 'work-queue') {
          this.removeDeadLettered(s, dlqBefore);
          // Each message every consumer is done with goes at once, even above a floor held by
          // one message that stays pending (a worker that keeps sending progress).
          cmd.acks.forEach((a, i) => {
            const o = outcomes[i];
            if (
              (a.kind === 'ack' || a.kind === 'term') &&
              o !== undefined &&
              'ok' in o &&
              this.consumers.doneWith(a.seq)
            ) {
              this.log.remove(a.seq);
            }
          });
          this.workQueueRetention(s);
        }
        return { type: 'ack', outcomes };
      }
      case 'tick': {
        let removed = this.expire(cmd.now);
        const dlqBefore = this.dlq.nextSeq;
        const deadLettered = this.consumers.tick(cmd.now);
        removed += this.removeDeadLettered(s, dlqBefore) + this.workQueueRetention(s);
        return { type: 'tick', removed, deadLettered };
      }
      case 'dlq-replay':
        return { type: 'dlq-replay', outcomes: cmd.seqs.map((seq) => this.replay(s, seq, cmd.now)) };
    }
  }

  private mustStream(): Stream {
    if (this.stream === undefined) {
      throw new ParleyError('NOT_FOUND', 'this partition has no stream yet (stream-create was not applied)');
    }
    return this.stream;
  }

  private streamOf(config: StreamConfig, partition: number): Stream {
    return { config, partition, matcher: new SubjectMatcher(config.subjects) };
  }

  private create(config: StreamConfig, partition: number): PartitionResult {
    const s = this.stream;
    if (s !== undefined) {
      // A retried create with the same config answers the same; another config is a conflict.
      if (s.partition === partition && JSON.stringify(s.config) === JSON.stringify(config)) {
        return { type: 'stream', info: this.info() };
      }
      throw new ParleyError(
        'ALREADY_EXISTS',
        `stream ${s.config.name} partition ${s.partition} exists with another config; update it (stream-update) or delete it first`,
      );
    }
    this.stream = this.streamOf(config, partition);
    // Nothing is stored before the stream exists: start the log with the stream's limits.
    this.log = this.newLog(config);
    this.consumers = this.tables.create(this.log, this.dlq, { stream: config.name, partition });
    return { type: 'stream', info: this.info() };
  }

  /** Age retention and the dedup window at `now`; the number of messages removed. */
  private expire(now: number): number {
    this.dedup.expire(now);
    return this.log.expire(now);
  }

  /**
   * Work-queue: removes the messages dead-lettered since dead letter `fromSeq` that every
   * consumer is done with (the dead-letter log keeps its copy), even above a floor held by
   * another message; the number removed.
   */
  private removeDeadLettered(s: Stream, fromSeq: number): number {
    if (s.config.retention !== 'work-queue' || this.dlq.nextSeq === fromSeq) return 0;
    let removed = 0;
    for (let seq = fromSeq; seq < this.dlq.nextSeq; seq++) {
      const letter = this.dlq.get(seq);
      if (letter !== undefined && this.consumers.doneWith(letter.message.seq) && this.log.remove(letter.message.seq)) {
        removed++;
      }
    }
    return removed;
  }

  private workQueueRetention(s: Stream): number {
    if (s.config.retention !== 'work-queue' || this.consumers.size === 0) return 0;
    return this.log.removeBelow(this.consumers.workQueueFloor());
  }

  /** Refuses a message this stream can never store (size, subject, key's partition, delay). */
  private check(s: Stream, e: PublishEntry, now: number, what: string): void {
    const c = s.config;
    const size = e.payload.length + headerBytes(e.headers);
    if (size > c.maxMessageBytes) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `${what} is ${size} bytes (payload + headers); stream ${c.name} takes at most maxMessageBytes ${c.maxMessageBytes}`,
        { details: { limit: 'maxMessageBytes', size, maxMessageBytes: c.maxMessageBytes } },
      );
    }
    if (!s.matcher.matches(e.subject)) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `${what}: subject ${e.subject} is not one of stream ${c.name}'s subjects (${c.subjects.join(', ')})`,
      );
    }
    if (e.key !== undefined && partitionOfKey(e.key, c.partitions) !== s.partition) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `${what}: key ${JSON.stringify(e.key.slice(0, 64))} belongs to partition ${partitionOfKey(e.key, c.partitions)}, not ${s.partition} (route by partitionOfKey)`,
      );
    }
    if (e.deliverAt !== undefined && e.deliverAt - now > c.maxDelayMs) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `${what}: deliverAt is ${e.deliverAt - now} ms ahead; stream ${c.name} allows at most maxDelayMs ${c.maxDelayMs}`,
        { details: { limit: 'maxDelayMs', maxDelayMs: c.maxDelayMs } },
      );
    }
  }

  private expectationFailed(what: string, expected: number, actual: number): ParleyError {
    return new ParleyError(
      'FAILED_PRECONDITION',
      `${what}: expectedLastSeq ${expected} but the last sequence is ${actual}; read the stream and retry`,
      { details: { expectedLastSeq: expected, lastSeq: actual } },
    );
  }

  private publish(s: Stream, cmd: PublishCommand): PartitionResult {
    this.expire(cmd.now);
    const outcomes = cmd.atomic === true ? this.publishAtomic(s, cmd) : this.publishEach(s, cmd);
    return { type: 'publish', outcomes, lastSeq: this.log.lastSeq };
  }

  private publishEach(s: Stream, cmd: PublishCommand): PublishOutcome[] {
    return cmd.messages.map((e, i) => {
      try {
        return this.publishOne(s, e, cmd.now, `messages[${i}]`);
      } catch (err) {
        return { error: ParleyError.from(err) };
      }
    });
  }

  /** Checks, deduplicates and stores one message; throws its refusal. */
  private publishOne(s: Stream, e: PublishEntry, now: number, what: string): PublishOutcome {
    this.check(s, e, now, what);
    if (e.msgId !== undefined) {
      const seq = this.dedup.lookup(e.msgId, now);
      if (seq !== undefined) return { seq, duplicate: true };
    }
    if (e.expectedLastSeq !== undefined && e.expectedLastSeq !== this.log.lastSeq) {
      throw this.expectationFailed(what, e.expectedLastSeq, this.log.lastSeq);
    }
    const m = toNew(e);
    const bytes = messageBytes(m);
    const refusal = this.log.refusal([{ bytes, key: m.key }]);
    if (refusal !== undefined) throw refusal;
    return { seq: this.store(s, m, now, bytes) };
  }

  private store(s: Stream, m: NewMessage, now: number, bytes: number): number {
    const stored = this.log.append(m, now, bytes);
    if (m.msgId !== undefined && s.config.dedupWindowMs > 0) {
      this.dedup.record(m.msgId, stored.seq, stored.time + s.config.dedupWindowMs, now);
    }
    return stored.seq;
  }

  /**
   * All or nothing: every message is checked against the state as it would be after the ones
   * before it (sequence, dedup within the batch, room), and only then are they stored.
   */
  private publishAtomic(s: Stream, cmd: PublishCommand): PublishOutcome[] {
    const plan: ({ dup: number } | { m: NewMessage; bytes: number })[] = [];
    const batchIds = new Map<string, number>();
    let lastSeq = this.log.lastSeq;
    cmd.messages.forEach((e, i) => {
      const what = `messages[${i}] of an atomic publish (nothing was stored)`;
      this.check(s, e, cmd.now, what);
      if (e.msgId !== undefined) {
        const seq = this.dedup.lookup(e.msgId, cmd.now) ?? batchIds.get(e.msgId);
        if (seq !== undefined) {
          plan.push({ dup: seq });
          return;
        }
      }
      if (e.expectedLastSeq !== undefined && e.expectedLastSeq !== lastSeq) {
        throw this.expectationFailed(what, e.expectedLastSeq, lastSeq);
      }
      lastSeq++;
      const m = toNew(e);
      if (m.msgId !== undefined) batchIds.set(m.msgId, lastSeq);
      plan.push({ m, bytes: messageBytes(m) });
    });
    const stored = plan.filter((p): p is { m: NewMessage; bytes: number } => 'm' in p);
    const refusal = this.log.refusal(stored.map((p) => ({ bytes: p.bytes, key: p.m.key })));
    if (refusal !== undefined) throw refusal;
    return plan.map((p) =>
      'dup' in p ? { seq: p.dup, duplicate: true } : { seq: this.store(s, p.m, cmd.now, p.bytes) },
    );
  }

  /** Publishes a dead letter again (without its msgId and delay); it leaves the dead-letter log only once stored. */
  private replay(s: Stream, seq: number, now: number): PublishOutcome {
    const letter = this.dlq.get(seq);
    if (letter === undefined) {
      return {
        error: new ParleyError('NOT_FOUND', `dead letter ${seq} does not exist (replayed already, or dropped)`),
      };
    }
    const { subject, key, headers, payload } = letter.message;
    const e: PublishEntry = {
      subject,
      payload,
      ...(key === undefined ? {} : { key }),
      ...(headers === undefined ? {} : { headers }),
    };
    try {
      const outcome = this.publishOne(s, e, now, `dead letter ${seq}`);
      this.dlq.take(seq);
      return outcome;
    } catch (err) {
      return { error: ParleyError.from(err) };
    }
  }
}

/** The message to store for a publish entry: fields in a fixed order, absent ones left out. */
function toNew(e: PublishEntry): NewMessage {
  const m: { -readonly [K in keyof StoredMessage]?: StoredMessage[K] } = { subject: e.subject };
  if (e.key !== undefined) m.key = e.key;
  if (e.headers !== undefined) m.headers = e.headers;
  m.payload = e.payload;
  if (e.msgId !== undefined) m.msgId = e.msgId;
  if (e.deliverAt !== undefined) m.deliverAt = e.deliverAt;
  return m as NewMessage;
}
