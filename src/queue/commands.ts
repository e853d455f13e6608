import { ParleyError } from '../wire/parley-error.js';
import { validateConsumerConfig } from './consumer-config.js';
import { validateStreamConfig } from './stream-config.js';
import { subjectProblem } from './subject.js';
import type { AckEntry, AckKind, ConsumerConfig, MessageHeaders, PartitionCommand, PublishEntry } from './types.js';

/**
 * Validation of a partition's replicated commands (types.ts `PartitionCommand`). Commands come
 * from the network and from the Raft log as decoded msgpack, so `validatePartitionCommand` checks
 * every field and turns any wrong shape into INVALID_ARGUMENT naming the field; it never throws
 * anything else. Unknown fields are stripped (a newer member's command still applies the same
 * way on every member of one version), and every array's length and string's size is checked
 * before anything is built from it.
 *
 * What depends on the stream (its maxMessageBytes, subjects, maxDelayMs) is checked when the
 * command is applied (partition-state-machine.ts); here only the absolute bounds.
 */

/** Most messages in one publish command. */
export const MAX_PUBLISH_BATCH = 1000;
/** Most acks in one ack command. */
export const MAX_ACK_BATCH = 10_000;
/** Most deliveries one fetch may ask for. */
export const MAX_FETCH = 10_000;
/** Most dead letters one replay may name. */
export const MAX_REPLAY_BATCH = 1000;
/** Longest key and msgId, in characters. */
export const MAX_KEY_CHARS = 1024;
export const MAX_MSG_ID_CHARS = 256;
/** Most headers per message, longest name and value. */
export const MAX_HEADERS = 64;
export const MAX_HEADER_NAME_CHARS = 256;
export const MAX_HEADER_VALUE_CHARS = 8192;
/** Longest error text kept with a nak or term (a dead letter's lastError). */
export const MAX_ERROR_CHARS = 1024;
/** Largest payload a command may carry at all; the stream's maxMessageBytes is checked on apply. */
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

const CONSUMER_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ACK_KINDS: readonly AckKind[] = ['ack', 'nak', 'progress', 'term'];

export function bad(message: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', message);
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function int(x: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`;
    throw bad(`${what} must be an integer ${range}`);
  }
  return x;
}

function str(x: unknown, what: string, maxChars: number, minChars = 1): string {
  if (typeof x !== 'string' || x.length < minChars || x.length > maxChars) {
    throw bad(`${what} must be a string of ${minChars}..${maxChars} characters`);
  }
  return x;
}

function list(x: unknown, what: string, max: number, min = 1): unknown[] {
  if (!Array.isArray(x) || x.length < min || x.length > max) {
    throw bad(`${what} must be an array of ${min}..${max} items`);
  }
  return x;
}

function consumerName(x: unknown, what = 'consumer'): string {
  if (typeof x !== 'string' || !CONSUMER_NAME.test(x)) throw bad(`${what} must be 1..64 letters, digits, '_' or '-'`);
  return x;
}

const encoder = new TextEncoder();

function payload(x: unknown, what: string): Uint8Array {
  if (typeof x === 'string') {
    // A UTF-8 string is at most 3 bytes per UTF-16 unit: bound it before encoding.
    if (x.length > MAX_PAYLOAD_BYTES) throw bad(`${what} is over ${MAX_PAYLOAD_BYTES} bytes`);
    x = encoder.encode(x);
  }
  if (!(x instanceof Uint8Array)) throw bad(`${what} must be bytes or a string`);
  if (x.length > MAX_PAYLOAD_BYTES) throw bad(`${what} is ${x.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
  return x;
}

function headers(x: unknown, what: string): MessageHeaders {
  if (!isObj(x)) throw bad(`${what} must be an object of string values`);
  const names = Object.keys(x);
  if (names.length > MAX_HEADERS) throw bad(`${what} has ${names.length} headers; at most ${MAX_HEADERS}`);
  const out: Record<string, string> = {};
  for (const name of names) {
    if (name.length === 0 || name.length > MAX_HEADER_NAME_CHARS || name === '__proto__') {
      throw bad(`${what} has a header name of ${name.length} characters; names are 1..${MAX_HEADER_NAME_CHARS}`);
    }
    out[name] = str(x[name], `${what}.${name.slice(0, 64)}`, MAX_HEADER_VALUE_CHARS, 0);
  }
  return out;
}

function publishEntry(x: unknown, i: number): PublishEntry {
  const what = `messages[${i}]`;
  if (!isObj(x)) throw bad(`${what} must be an object with a subject and a payload`);
  const problem = subjectProblem(x.subject);
  if (problem !== undefined) throw bad(`${what}.subject ${problem}`);
  // One literal, fields always in this order, absent ones left out (the encoding is canonical).
  const e: { -readonly [K in keyof PublishEntry]: PublishEntry[K] } = {
    subject: x.subject as string,
    payload: payload(x.payload ?? new Uint8Array(0), `${what}.payload`),
  };
  if (x.key !== undefined) e.key = str(x.key, `${what}.key`, MAX_KEY_CHARS);
  if (x.headers !== undefined) e.headers = headers(x.headers, `${what}.headers`);
  if (x.msgId !== undefined) e.msgId = str(x.msgId, `${what}.msgId`, MAX_MSG_ID_CHARS);
  if (x.expectedLastSeq !== undefined) e.expectedLastSeq = int(x.expectedLastSeq, `${what}.expectedLastSeq`);
  if (x.deliverAt !== undefined) e.deliverAt = int(x.deliverAt, `${what}.deliverAt`);
  return e;
}

function ackEntry(x: unknown, i: number): AckEntry {
  const what = `acks[${i}]`;
  if (!isObj(x)) throw bad(`${what} must be { kind, seq, token }`);
  if (!ACK_KINDS.includes(x.kind as AckKind)) throw bad(`${what}.kind must be one of ${ACK_KINDS.join(', ')}`);
  const e: { -readonly [K in keyof AckEntry]: AckEntry[K] } = {
    kind: x.kind as AckKind,
    seq: int(x.seq, `${what}.seq`, 1),
    token: int(x.token, `${what}.token`),
  };
  if (x.delayMs !== undefined) e.delayMs = int(x.delayMs, `${what}.delayMs`);
  if (x.error !== undefined) e.error = str(x.error, `${what}.error`, MAX_ERROR_CHARS, 0);
  return e;
}

/** A consumer's configuration inside a command: validated and completed with the defaults by consumer-config.ts. */
function consumerConfig(x: unknown): ConsumerConfig {
  return validateConsumerConfig(x);
}

function shownType(x: unknown): string {
  return typeof x === 'string' ? JSON.stringify(x.slice(0, 64)) : `of type ${typeof x}`;
}

/** Checks a command received from the network or the log; throws INVALID_ARGUMENT on any wrong shape. */
export function validatePartitionCommand(x: unknown): PartitionCommand {
  if (!isObj(x)) throw bad('a partition command must be an object');
  const type = x.type;
  const now = int(x.now, 'now');
  switch (type) {
    case 'publish': {
      const messages = list(x.messages, 'messages', MAX_PUBLISH_BATCH).map(publishEntry);
      if (x.atomic !== undefined && typeof x.atomic !== 'boolean') throw bad('atomic must be a boolean');
      return x.atomic === true ? { type, now, messages, atomic: true } : { type, now, messages };
    }
    case 'stream-create': {
      const config = validateStreamConfig(x.config, { unknownFields: 'strip' });
      const partition = int(x.partition, 'partition', 0, config.partitions - 1);
      return { type, now, config, partition };
    }
    case 'stream-update':
      return { type, now, config: validateStreamConfig(x.config, { unknownFields: 'strip' }) };
    case 'purge':
      return x.belowSeq === undefined ? { type, now } : { type, now, belowSeq: int(x.belowSeq, 'belowSeq', 1) };
    case 'consumer-create':
      return { type, now, config: consumerConfig(x.config) };
    case 'consumer-delete':
      return { type, now, name: consumerName(x.name, 'name') };
    case 'fetch':
      return {
        type,
        now,
        consumer: consumerName(x.consumer),
        max: int(x.max, 'max', 1, MAX_FETCH),
        maxBytes: int(x.maxBytes, 'maxBytes', 1),
      };
    case 'ack':
      return {
        type,
        now,
        consumer: consumerName(x.consumer),
        acks: list(x.acks, 'acks', MAX_ACK_BATCH).map(ackEntry),
      };
    case 'tick':
      return { type, now };
    case 'dlq-replay':
      return {
        type,
        now,
        seqs: list(x.seqs, 'seqs', MAX_REPLAY_BATCH).map((s, i) => int(s, `seqs[${i}]`, 1)),
      };
    default:
      throw bad(
        `unknown partition command type ${shownType(type)} (publish, stream-create, stream-update, purge, consumer-create, consumer-delete, fetch, ack, tick, dlq-replay)`,
      );
  }
}
