import { Packr } from 'msgpackr';
import { plain, restoreBytes } from '../kv/command-codec.js';
import { ParleyError } from '../wire/parley-error.js';
import { validateStreamConfig } from './stream-config.js';
import type { DeadLetter, MessageHeaders, StoredMessage, StreamConfig } from './types.js';

/**
 * A partition's snapshot: the whole replicated state (docs/QUEUES.md, "Model"), so compacting
 * the Raft log never waits for an unacked message. msgpack of arrays (no records, no
 * extensions); messages and dead letters in sequence order, dedup ids oldest first, the stream
 * config with its fields in validateStreamConfig's fixed order, the consumers' own plain data.
 * The same state therefore always gives the same bytes.
 *
 * Layout (version 1):
 *   [1, appliedIndex,
 *    stream:    [config, partition] | null,
 *    log:       [lastSeq, lastTime, [message, ...]],
 *    dedup:     [evictedEarly, [[msgId, seq, expiresAt], ...]],
 *    deadLetters: [nextSeq, dropped, [[seq, consumer, deliveries, reason, lastError | null, time, message], ...]],
 *    consumers: the consumer table's snapshot (plain data) | null]
 *   message = [seq, subject, key | null, headers | null, payload, time, msgId | null, deliverAt | null]
 *
 * Invariant: `decodePartitionSnapshot` never throws anything but DATA_LOSS, whatever the bytes.
 */

export const SNAPSHOT_VERSION = 1;

export interface PartitionSnapshot {
  readonly appliedIndex: number;
  readonly stream: { readonly config: StreamConfig; readonly partition: number } | null;
  readonly lastSeq: number;
  readonly lastTime: number;
  readonly messages: readonly StoredMessage[];
  readonly dedupEvictedEarly: number;
  readonly dedup: readonly (readonly [string, number, number])[];
  readonly deadLetterNextSeq: number;
  readonly deadLettersDropped: number;
  readonly deadLetters: readonly DeadLetter[];
  readonly consumers: unknown;
}

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

type MessageRow = [
  number,
  string,
  string | null,
  MessageHeaders | null,
  Uint8Array,
  number,
  string | null,
  number | null,
];

function messageRow(m: StoredMessage): MessageRow {
  return [m.seq, m.subject, m.key ?? null, m.headers ?? null, m.payload, m.time, m.msgId ?? null, m.deliverAt ?? null];
}

export function encodePartitionSnapshot(s: PartitionSnapshot): Uint8Array {
  const layout = [
    SNAPSHOT_VERSION,
    s.appliedIndex,
    s.stream === null ? null : [s.stream.config, s.stream.partition],
    [s.lastSeq, s.lastTime, s.messages.map(messageRow)],
    [s.dedupEvictedEarly, s.dedup],
    [
      s.deadLetterNextSeq,
      s.deadLettersDropped,
      s.deadLetters.map((d) => [
        d.seq,
        d.consumer,
        d.deliveries,
        d.reason,
        d.lastError ?? null,
        d.time,
        messageRow(d.message),
      ]),
    ],
    s.consumers === undefined ? null : plain(s.consumers),
  ];
  return new Uint8Array(packr.pack(layout));
}

function corrupt(what: string): ParleyError {
  return new ParleyError('DATA_LOSS', `queue partition snapshot is corrupt: ${what}`);
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isStr = (x: unknown): x is string => typeof x === 'string';

function arr(x: unknown, what: string, length?: number): unknown[] {
  if (!Array.isArray(x) || (length !== undefined && x.length !== length)) throw corrupt(`${what} has the wrong shape`);
  return x;
}

function message(x: unknown): StoredMessage {
  const [seq, subject, key, headers, payload, time, msgId, deliverAt] = arr(x, 'a message', 8);
  const ok =
    isInt(seq) &&
    isStr(subject) &&
    (key === null || isStr(key)) &&
    (headers === null || (typeof headers === 'object' && !Array.isArray(headers))) &&
    payload instanceof Uint8Array &&
    isInt(time) &&
    (msgId === null || isStr(msgId)) &&
    (deliverAt === null || isInt(deliverAt));
  if (!ok) throw corrupt('a message has the wrong shape');
  const m: { -readonly [K in keyof StoredMessage]: StoredMessage[K] } = { seq, subject, payload, time };
  if (key !== null) m.key = key;
  if (headers !== null) m.headers = headers as MessageHeaders;
  if (msgId !== null) m.msgId = msgId;
  if (deliverAt !== null) m.deliverAt = deliverAt;
  return m;
}

export function decodePartitionSnapshot(bytes: Uint8Array): PartitionSnapshot {
  try {
    return decodeUnchecked(bytes);
  } catch (err) {
    if (err instanceof ParleyError && err.code === 'DATA_LOSS') throw err;
    throw new ParleyError('DATA_LOSS', 'queue partition snapshot is corrupt: unexpected shape', { cause: err });
  }
}

function decodeUnchecked(bytes: Uint8Array): PartitionSnapshot {
  let raw: unknown;
  try {
    raw = restoreBytes(packr.unpack(bytes));
  } catch (err) {
    throw new ParleyError('DATA_LOSS', 'queue partition snapshot is not valid msgpack', { cause: err });
  }
  const top = arr(raw, 'the snapshot', 7);
  if (top[0] !== SNAPSHOT_VERSION) {
    throw corrupt(
      `version ${String(top[0])} is not ${SNAPSHOT_VERSION} (restore it with the Parley version that wrote it)`,
    );
  }
  const [, appliedIndex, rawStream, rawLog, rawDedup, rawDlq, consumers] = top;
  if (!isInt(appliedIndex)) throw corrupt('appliedIndex');
  let stream: PartitionSnapshot['stream'] = null;
  if (rawStream !== null) {
    const [config, partition] = arr(rawStream, 'the stream', 2);
    // The config was validated when applied; validating again keeps its canonical field order.
    const c = validateStreamConfig(config);
    if (!isInt(partition) || partition >= c.partitions) throw corrupt('the partition number');
    stream = { config: c, partition };
  }
  const [lastSeq, lastTime, rawMessages] = arr(rawLog, 'the log', 3);
  if (!isInt(lastSeq) || !isInt(lastTime)) throw corrupt('the log position');
  const messages = arr(rawMessages, 'the messages').map(message);
  const [evicted, rawIds] = arr(rawDedup, 'the dedup window', 2);
  if (!isInt(evicted)) throw corrupt('the dedup counter');
  const dedup = arr(rawIds, 'the dedup ids').map((r) => {
    const [id, seq, exp] = arr(r, 'a dedup id', 3);
    if (!isStr(id) || !isInt(seq) || !isInt(exp)) throw corrupt('a dedup id has the wrong shape');
    return [id, seq, exp] as const;
  });
  const [nextSeq, dropped, rawLetters] = arr(rawDlq, 'the dead letters', 3);
  if (!isInt(nextSeq) || !isInt(dropped)) throw corrupt('the dead-letter counters');
  const deadLetters = arr(rawLetters, 'the dead letters').map((r): DeadLetter => {
    const [seq, consumer, deliveries, reason, lastError, time, m] = arr(r, 'a dead letter', 7);
    const ok =
      isInt(seq) &&
      isStr(consumer) &&
      isInt(deliveries) &&
      (reason === 'max-deliveries' || reason === 'terminated') &&
      (lastError === null || isStr(lastError)) &&
      isInt(time);
    if (!ok) throw corrupt('a dead letter has the wrong shape');
    const base = { seq, message: message(m), consumer, deliveries, reason: reason as DeadLetter['reason'], time };
    return lastError === null ? base : { ...base, lastError };
  });
  return {
    appliedIndex,
    stream,
    lastSeq,
    lastTime,
    messages,
    dedupEvictedEarly: evicted,
    dedup,
    deadLetterNextSeq: nextSeq,
    deadLettersDropped: dropped,
    deadLetters,
    consumers: consumers ?? undefined,
  };
}
