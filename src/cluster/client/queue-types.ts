import type { Timer } from '../../base/clock.js';
import type { MessageHeaders, StoredMessage, StreamConfig } from '../../queue/types.js';
import type { Logger, LogLevel } from '../../transport/logger.js';
import type { AuthOptions } from '../../transport/security/auth-options.js';
import type { TlsOptions } from '../../transport/tls-options.js';

/** The public types of the queue client (queue-client.ts): options, results, a delivered message. */

export interface PublishOptions {
  /** The stream (default: the one whose subjects match). */
  readonly stream?: string;
  /** Chooses the partition and the ordering group. */
  readonly key?: string;
  /** Deduplication id: a publish retried with the same id within the stream's window is stored once. */
  readonly msgId?: string;
  readonly headers?: MessageHeaders;
  /** Not delivered before this time (ms since the epoch) … */
  readonly deliverAt?: number;
  /** … or this many ms from now. */
  readonly delayMs?: number;
  /** Stored only if the partition's last sequence is this (optimistic concurrency). */
  readonly expectedLastSeq?: number;
}

export interface PublishAck {
  readonly stream: string;
  readonly partition: number;
  readonly seq: number;
  /** True when the msgId was already stored: `seq` is the first publish's. */
  readonly duplicate: boolean;
}

/** A delivered message and its acknowledgements. */
export interface QueueMessage extends StoredMessage {
  readonly stream: string;
  readonly partition: number;
  /** 1 on the first delivery. */
  readonly deliveries: number;
  /** The payload as UTF-8 text. */
  text(): string;
  ack(): Promise<void>;
  /** Redeliver (after `delayMs`, else per the consumer's backoff); `error` is kept if it is dead-lettered. */
  nak(delayMs?: number, error?: string): Promise<void>;
  /** Still working on it: extends the ack wait. */
  progress(): Promise<void>;
  /** Never redeliver: dead-letter it now. */
  term(error?: string): Promise<void>;
}

export interface FetchOptions {
  /** Most messages per partition (default 100). */
  readonly max?: number;
  /** Most payload bytes per partition (default 1 MiB; at least one message). */
  readonly maxBytes?: number;
  /** Wait up to this long for messages when none is ready (default 0, at most 30000). */
  readonly waitMs?: number;
}

export interface ConsumeOptions extends FetchOptions {
  /** Handlers running at once per partition (default 1: in delivery order). */
  readonly concurrency?: number;
  /** Called when a handler throws (after the message was nak'ed) or a fetch fails. */
  readonly onError?: (err: unknown) => void;
}

export interface StreamView {
  readonly config: StreamConfig;
  readonly partitions: readonly PartitionView[];
}
export interface PartitionView {
  readonly groupId: string;
  readonly voters: readonly string[];
  readonly preferredLeader: string;
  readonly leader: string | null;
}

export interface QueueClientOptions {
  /** Budget of one operation, retries included (default 10000 ms). */
  readonly timeoutMs?: number;
  readonly timer?: Timer;
}

/** A running `consume` loop. */
export interface Consumption {
  /** Stops fetching, waits for running handlers. */
  stop(): Promise<void>;
}

export interface ConnectQueuesOptions extends QueueClientOptions {
  /** Addresses (host:port) of `parley server` members; one reachable member is enough. */
  readonly servers: readonly string[];
  /** Client node id (default q-<pid>-<random>); see ConnectKvOptions.id for the rules under auth. */
  readonly id?: string;
  readonly logger?: Logger | LogLevel;
  readonly auth?: AuthOptions;
  readonly tls?: TlsOptions;
}
