import type { ParleyError } from '../wire/parley-error.js';

/**
 * The shared vocabulary of durable queues and streams (docs/QUEUES.md): what a stream and a
 * consumer are configured with, what a stored message is, the replicated commands of one
 * partition and their results.
 *
 * A **partition** is one Raft group. Its state machine (`PartitionStateMachine`) holds one
 * partition of one stream: the message log, that partition's dead-letter log, and the state of
 * every consumer of the stream for this partition. It is pure and deterministic: time enters
 * only through the `now` field the proposing leader stamps on each command (milliseconds since
 * the epoch); nothing reads a clock while applying.
 *
 * Everything here is plain data that msgpack carries unchanged (no Maps, no classes), so a
 * command validated on the member that received it is proposed as is and decoded identically
 * on every member.
 */

/** Where a new consumer starts reading. */
export type DeliverFrom =
  | { readonly from: 'first' }
  /** The last message present when the consumer is created, then everything after it. */
  | { readonly from: 'last' }
  /** Only messages published after the consumer is created. */
  | { readonly from: 'new' }
  | { readonly from: 'sequence'; readonly seq: number }
  /** The first message published at or after this time (ms since the epoch). */
  | { readonly from: 'time'; readonly time: number };

/** What a stream keeps. */
export type RetentionPolicy =
  /** Keep messages until a limit (messages, bytes, age) removes the oldest. */
  | 'limits'
  /** A message is removed once every consumer acked it (or terminated it); limits still apply. */
  | 'work-queue';

/** What a full stream does with one more message. */
export type DiscardPolicy = 'old' | 'new';

export interface StreamConfig {
  /** `[A-Za-z0-9_-]{1,64}`. */
  readonly name: string;
  /**
   * Subject patterns routed to this stream: tokens separated by `.`, `*` one token, `>` the
   * rest (last token only). Two streams may not share a subject a message could match.
   */
  readonly subjects: readonly string[];
  /** Raft groups the stream is split into (1..64, default 1); a message's key chooses one. */
  readonly partitions: number;
  /** Members per partition (1, 3 or 5; default 3, capped by the members available). */
  readonly replicas: number;
  readonly retention: RetentionPolicy;
  readonly discard: DiscardPolicy;
  /** 0 = no limit. Per partition. */
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  /** Largest payload + headers accepted (default 1 MiB; at most what one Raft entry carries). */
  readonly maxMessageBytes: number;
  /** How long a message id is remembered for deduplication (default 120000). */
  readonly dedupWindowMs: number;
  /** Keep only the last message per key (the older ones are removed when a newer is stored). */
  readonly compactByKey: boolean;
  /** Largest delay a publish may ask for (default 24 h). */
  readonly maxDelayMs: number;
}

export type ConsumerMode =
  /** A group shares the work: any message to any member of the group, no order promised. */
  | 'competing'
  /** Per key in order: while a message of key K is unacked, no later message of K is delivered. */
  | 'ordered-by-key';

export interface ConsumerConfig {
  /** `[A-Za-z0-9_-]{1,64}`; unique within its stream. */
  readonly name: string;
  /** Durable consumers survive restarts and failovers and are deleted only on request. Ephemeral ones are removed after `inactiveMs` without a fetch. */
  readonly durable: boolean;
  readonly inactiveMs: number;
  readonly mode: ConsumerMode;
  readonly deliverFrom: DeliverFrom;
  /** Only messages whose subject matches this pattern (absent: all). */
  readonly filterSubject?: string;
  /** A delivery not acked within this is delivered again (default 30000). */
  readonly ackWaitMs: number;
  /**
   * Redelivery delays after the n-th failed delivery (n = 1, 2, …; the last repeats); empty:
   * redeliver as soon as the ack wait expires or the message is nak'ed.
   */
  readonly backoffMs: readonly number[];
  /** Deliveries before the message is dead-lettered (default 20; never dropped). */
  readonly maxDeliver: number;
  /** Unacked deliveries at most (credit; default 1000): a slow consumer is never overrun. */
  readonly maxAckPending: number;
}

export interface MessageHeaders {
  readonly [name: string]: string;
}

/** One message as a stream stores it. */
export interface StoredMessage {
  /** Per partition, from 1, without gaps at the time of publish (removals leave gaps). */
  readonly seq: number;
  readonly subject: string;
  /** Chooses the partition and the ordering group (absent: no key). */
  readonly key?: string;
  readonly headers?: MessageHeaders;
  readonly payload: Uint8Array;
  /** The leader's clock when the message was stored. */
  readonly time: number;
  /** The publisher's message id, remembered for `dedupWindowMs`. */
  readonly msgId?: string;
  /** Not delivered before this time. */
  readonly deliverAt?: number;
}

/** A message taken out of the normal flow after `maxDeliver` deliveries or a `term`. */
export interface DeadLetter {
  /** Sequence in this partition's dead-letter log. */
  readonly seq: number;
  readonly message: StoredMessage;
  readonly consumer: string;
  readonly deliveries: number;
  readonly reason: 'max-deliveries' | 'terminated';
  readonly lastError?: string;
  readonly time: number;
}

/** One message handed to a consumer. */
export interface Delivery {
  readonly message: StoredMessage;
  /** 1 on the first delivery. */
  readonly deliveries: number;
  /**
   * Fences acknowledgements: an ack/nak/progress/term must carry the token of the message's
   * current delivery; a stale worker's late ack (the message was redelivered since) is refused.
   */
  readonly token: number;
  /** When this delivery's ack wait expires. */
  readonly deadline: number;
}

// ---- Replicated commands of one partition ----

export interface PublishEntry {
  readonly subject: string;
  readonly key?: string;
  readonly headers?: MessageHeaders;
  readonly payload: Uint8Array;
  readonly msgId?: string;
  /** Optimistic concurrency: stored only if the partition's last sequence is this. */
  readonly expectedLastSeq?: number;
  readonly deliverAt?: number;
}

export interface PublishCommand {
  readonly type: 'publish';
  readonly now: number;
  readonly messages: readonly PublishEntry[];
  /** All or nothing: if one message is refused, none is stored. */
  readonly atomic?: boolean;
}
export interface CreateStreamPartitionCommand {
  readonly type: 'stream-create';
  readonly now: number;
  readonly config: StreamConfig;
  readonly partition: number;
}
export interface UpdateStreamCommand {
  readonly type: 'stream-update';
  readonly now: number;
  readonly config: StreamConfig;
}
export interface PurgeCommand {
  readonly type: 'purge';
  readonly now: number;
  /** Remove messages below this sequence (absent: all). */
  readonly belowSeq?: number;
}
export interface ConsumerCreateCommand {
  readonly type: 'consumer-create';
  readonly now: number;
  readonly config: ConsumerConfig;
}
export interface ConsumerDeleteCommand {
  readonly type: 'consumer-delete';
  readonly now: number;
  readonly name: string;
}
export interface FetchCommand {
  readonly type: 'fetch';
  readonly now: number;
  readonly consumer: string;
  /** Most deliveries returned (also bounded by the consumer's free credit). */
  readonly max: number;
  /** Most payload bytes returned (at least one message is returned if any is due). */
  readonly maxBytes: number;
}
export type AckKind = 'ack' | 'nak' | 'progress' | 'term';
export interface AckEntry {
  readonly kind: AckKind;
  readonly seq: number;
  readonly token: number;
  /** nak: redeliver no earlier than this many ms from now (absent: the backoff list decides). */
  readonly delayMs?: number;
  /** nak/term: why, kept with a dead letter. */
  readonly error?: string;
}
export interface AckCommand {
  readonly type: 'ack';
  readonly now: number;
  readonly consumer: string;
  readonly acks: readonly AckEntry[];
}
/** Proposed by the leader now and then: age retention, dead-lettering of expired deliveries past maxDeliver, idle ephemeral consumers. */
export interface TickCommand {
  readonly type: 'tick';
  readonly now: number;
}
export interface DeadLetterReplayCommand {
  readonly type: 'dlq-replay';
  readonly now: number;
  /** Dead letters to publish again into the stream (removed from the dead-letter log). */
  readonly seqs: readonly number[];
}

export type PartitionCommand =
  | PublishCommand
  | CreateStreamPartitionCommand
  | UpdateStreamCommand
  | PurgeCommand
  | ConsumerCreateCommand
  | ConsumerDeleteCommand
  | FetchCommand
  | AckCommand
  | TickCommand
  | DeadLetterReplayCommand;

// ---- Results ----

export type PublishOutcome =
  | { readonly seq: number; readonly duplicate?: false }
  /** Already stored under this msgId within the window: the first publish's sequence. */
  | { readonly seq: number; readonly duplicate: true }
  | { readonly error: ParleyError };

export type AckOutcome =
  | { readonly ok: true }
  /** e.g. FAILED_PRECONDITION 'stale-delivery' (token fenced), NOT_FOUND (already acked). */
  | { readonly error: ParleyError };

export type PartitionResult =
  | { readonly type: 'publish'; readonly outcomes: readonly PublishOutcome[]; readonly lastSeq: number }
  | { readonly type: 'stream'; readonly info: PartitionInfo }
  | { readonly type: 'purge'; readonly purged: number }
  | { readonly type: 'consumer'; readonly info: ConsumerInfo }
  | { readonly type: 'deleted' }
  | { readonly type: 'fetch'; readonly deliveries: readonly Delivery[] }
  | { readonly type: 'ack'; readonly outcomes: readonly AckOutcome[] }
  | { readonly type: 'tick'; readonly removed: number; readonly deadLettered: number }
  | { readonly type: 'dlq-replay'; readonly outcomes: readonly PublishOutcome[] };

/** The outcome of applying one command. Deterministic errors are values, not exceptions. */
export type PartitionOutcome = { ok: true; result: PartitionResult } | { ok: false; error: ParleyError };

export interface PartitionInfo {
  readonly stream: string;
  readonly partition: number;
  readonly messages: number;
  readonly bytes: number;
  /** 0 when empty. */
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly deadLetters: number;
  /** Dead letters dropped because the dead-letter log was full (its own retention; dead-letter-log.ts). */
  readonly deadLettersDropped: number;
  readonly consumers: number;
}

export interface ConsumerInfo {
  readonly stream: string;
  readonly partition: number;
  readonly config: ConsumerConfig;
  /** Every message at or below this sequence is acked (or terminated / dead-lettered). */
  readonly ackFloor: number;
  /** Unacked deliveries. */
  readonly pending: number;
  /** Messages matching the filter not yet delivered once. */
  readonly waiting: number;
  readonly redelivered: number;
}

// ---- Seams between the parts of a partition's state machine ----

/** What consumers read of the message log (implemented by message-log.ts). */
export interface MessageLogView {
  /** Lowest stored sequence, 0 when empty. */
  readonly firstSeq: number;
  /** Highest sequence ever assigned (stays when messages are removed), 0 before the first. */
  readonly lastSeq: number;
  /** The message, or undefined when it was removed (retention, purge, compaction) or never existed. */
  get(seq: number): StoredMessage | undefined;
  /** The first stored message with sequence ≥ `seq`, or undefined. */
  nextAtOrAfter(seq: number): StoredMessage | undefined;
  /** The sequence of the first stored message with time ≥ `time` (lastSeq + 1 when none). */
  firstSeqAtOrAfterTime(time: number): number;
}

/** Where consumers put a message they give up on (implemented by the partition's dead-letter log). */
export interface DeadLetterSink {
  deadLetter(entry: Omit<DeadLetter, 'seq'>): void;
}
