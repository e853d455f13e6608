import type { AckKind, ConsumerMode } from '../types.js';

/**
 * The history of a simulated queue run: what the clients observed, in the order they observed
 * it, plus what the checker needs to know about the setup. Nothing here is read from inside the
 * replicas: a publish's sequence, a delivery's token and an ack's verdict are what the proposing
 * member answered the client (or `unknown` when the client gave up: a timeout, a crash of the
 * member it talked to). `step` is the simulated time the client learned the outcome; `index` is
 * the Raft log index the command was applied at, which orders every known outcome totally.
 *
 * Every message's payload is its publisher-chosen id (the same string as its msgId): a stored
 * message names its publish even if the replica forgot the msgId field.
 *
 * The final state (`FinalPartitionView`) is read from every member's state machine after the
 * quiet period, when faults have stopped and the consumers drained.
 */

export type PublishOutcomeRecord =
  | { readonly kind: 'ok'; readonly seq: number; readonly duplicate: boolean; readonly index: number }
  /** Refused: the member dropped the proposal (in no log), or the state machine answered an error. */
  | { readonly kind: 'failed'; readonly reason: string }
  /** Timed out or the member crashed: it may or may not be stored. */
  | { readonly kind: 'unknown'; readonly reason: string };

export interface PublishRecord {
  readonly op: 'publish';
  readonly client: string;
  /** Also the payload (as UTF-8). Retries of one message reuse it. */
  readonly msgId: string;
  readonly key?: string;
  /** 1 for the first try, 2.. for retries after an unknown outcome. */
  readonly attempt: number;
  readonly issuedAt: number;
  readonly step: number;
  readonly outcome: PublishOutcomeRecord;
}

/** One message handed to a consumer client (a fetch whose outcome the client learned). */
export interface DeliveryRecord {
  readonly op: 'delivery';
  readonly client: string;
  readonly consumer: string;
  readonly step: number;
  /** The Raft index of the fetch that delivered it. */
  readonly index: number;
  readonly seq: number;
  /** The id in the message's payload. */
  readonly id: string;
  readonly key?: string;
  readonly token: number;
  readonly deliveries: number;
}

export type AckOutcomeRecord =
  | { readonly kind: 'ok'; readonly index: number }
  | { readonly kind: 'refused'; readonly index: number; readonly code: string; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface AckRecord {
  readonly op: 'ack';
  readonly client: string;
  readonly consumer: string;
  readonly kind: AckKind;
  readonly seq: number;
  readonly token: number;
  readonly issuedAt: number;
  readonly step: number;
  readonly outcome: AckOutcomeRecord;
}

export type HistoryRecord = PublishRecord | DeliveryRecord | AckRecord;

/** What the checker must know of each consumer. */
export interface ConsumerSpec {
  readonly name: string;
  readonly mode: ConsumerMode;
  readonly maxDeliver: number;
}

export interface FinalMessage {
  readonly seq: number;
  /** The id in the payload. */
  readonly id: string;
  readonly key?: string;
}

export interface FinalDeadLetter {
  /** The message's sequence in the stream. */
  readonly seq: number;
  readonly id: string;
  readonly consumer: string;
  readonly reason: 'max-deliveries' | 'terminated';
  readonly deliveries: number;
}

export interface FinalConsumer {
  readonly name: string;
  readonly ackFloor: number;
  readonly pending: number;
  readonly waiting: number;
}

/** One member's partition state at the end of a run. */
export interface FinalPartitionView {
  readonly member: string;
  /** The Raft index its state machine applied. */
  readonly applied: number;
  readonly lastSeq: number;
  readonly messages: readonly FinalMessage[];
  readonly deadLetters: readonly FinalDeadLetter[];
  readonly consumers: readonly FinalConsumer[];
}

export interface QueueHistory {
  readonly consumers: readonly ConsumerSpec[];
  readonly records: readonly HistoryRecord[];
  /** Every live member's final state (after the drain). */
  readonly final: readonly FinalPartitionView[];
}

/** One line per record, for failure reports. */
export function describeRecord(r: HistoryRecord): string {
  switch (r.op) {
    case 'publish': {
      const o = r.outcome;
      const what =
        o.kind === 'ok' ? `ok seq ${o.seq}${o.duplicate ? ' (duplicate)' : ''} @${o.index}` : `${o.kind}: ${o.reason}`;
      return `[${r.step}] ${r.client} publish ${r.msgId}${r.key === undefined ? '' : ` key ${r.key}`} try ${r.attempt} (issued ${r.issuedAt}) → ${what}`;
    }
    case 'delivery':
      return `[${r.step}] ${r.client} got ${r.consumer} seq ${r.seq} (${r.id}${r.key === undefined ? '' : ` key ${r.key}`}) token ${r.token} delivery ${r.deliveries} @${r.index}`;
    case 'ack': {
      const o = r.outcome;
      const what =
        o.kind === 'ok'
          ? `ok @${o.index}`
          : o.kind === 'refused'
            ? `refused ${o.code} @${o.index}`
            : `unknown: ${o.reason}`;
      return `[${r.step}] ${r.client} ${r.kind} ${r.consumer} seq ${r.seq} token ${r.token} (issued ${r.issuedAt}) → ${what}`;
    }
  }
}
