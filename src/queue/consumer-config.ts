import { ParleyError } from '../wire/parley-error.js';
import { patternProblem } from './subject.js';
import type { ConsumerConfig, ConsumerMode, DeliverFrom } from './types.js';

/**
 * Validation and defaults of a consumer's configuration (docs/QUEUES.md, "Consumers"). A config
 * that makes no sense is refused with INVALID_ARGUMENT naming the field and what to do; unknown
 * fields are refused too (a misspelt `ackWait` must not silently become the default).
 *
 * Invariant: the result is a complete `ConsumerConfig` whose fields are always built in the
 * same order (and `filterSubject` is absent rather than undefined), so two validations of equal
 * inputs are deep-equal and encode to the same bytes: `sameConsumerConfig` and snapshots rely
 * on it.
 */

export const CONSUMER_DEFAULTS = {
  durable: true,
  /** Ephemeral consumers only: removed after this long without a fetch or an ack (5 min). */
  inactiveMs: 300_000,
  mode: 'competing' as ConsumerMode,
  /** From the first stored message: work published before the consumer existed is not skipped (JetStream's DeliverAll). */
  deliverFrom: { from: 'first' } as DeliverFrom,
  ackWaitMs: 30_000,
  backoffMs: [] as readonly number[],
  maxDeliver: 20,
  maxAckPending: 1000,
} as const;

export const MIN_ACK_WAIT_MS = 100;
export const MIN_INACTIVE_MS = 1000;
export const MAX_BACKOFF_ENTRIES = 20;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const FIELDS = new Set([
  'name',
  'durable',
  'inactiveMs',
  'mode',
  'deliverFrom',
  'filterSubject',
  'ackWaitMs',
  'backoffMs',
  'maxDeliver',
  'maxAckPending',
]);

function invalid(message: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', `consumer config: ${message}`);
}

function integerField(input: Record<string, unknown>, field: string, fallback: number, min: number, hint: string) {
  const value = input[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${field} is ${String(value)}; ${hint}`);
  }
  return value;
}

function deliverFromField(value: unknown): DeliverFrom {
  if (value === undefined) return CONSUMER_DEFAULTS.deliverFrom;
  const v = value as { from?: unknown; seq?: unknown; time?: unknown };
  if (typeof value !== 'object' || value === null) {
    throw invalid(`deliverFrom must be an object like { from: 'first' | 'last' | 'new' | 'sequence' | 'time' }`);
  }
  switch (v.from) {
    case 'first':
    case 'last':
    case 'new':
      return { from: v.from };
    case 'sequence':
      if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq) || v.seq < 1) {
        throw invalid(`deliverFrom.seq is ${String(v.seq)}; give a message sequence number ≥ 1`);
      }
      return { from: 'sequence', seq: v.seq };
    case 'time':
      if (typeof v.time !== 'number' || !Number.isFinite(v.time) || v.time < 0) {
        throw invalid(`deliverFrom.time is ${String(v.time)}; give milliseconds since the epoch`);
      }
      return { from: 'time', time: v.time };
    default:
      throw invalid(`deliverFrom.from is ${String(v.from)}; use 'first', 'last', 'new', 'sequence' or 'time'`);
  }
}

/** The complete, normalized config for `input`, or INVALID_ARGUMENT. */
export function validateConsumerConfig(input: unknown): ConsumerConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('expected an object with at least a name');
  }
  const fields = input as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (!FIELDS.has(field) && fields[field] !== undefined) {
      throw invalid(`unknown field '${field}'; the fields are ${[...FIELDS].join(', ')}`);
    }
  }
  const name = fields.name;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid(`name is ${JSON.stringify(name)}; use 1..64 characters of A-Z a-z 0-9 _ -`);
  }
  const durable = fields.durable ?? CONSUMER_DEFAULTS.durable;
  if (typeof durable !== 'boolean') throw invalid(`durable is ${String(durable)}; use true or false`);
  const inactiveMs = integerField(
    fields,
    'inactiveMs',
    CONSUMER_DEFAULTS.inactiveMs,
    MIN_INACTIVE_MS,
    `an ephemeral consumer needs at least ${MIN_INACTIVE_MS} ms of idleness before it is removed`,
  );
  const mode = fields.mode ?? CONSUMER_DEFAULTS.mode;
  if (mode !== 'competing' && mode !== 'ordered-by-key') {
    throw invalid(`mode is ${String(mode)}; use 'competing' or 'ordered-by-key'`);
  }
  const deliverFrom = deliverFromField(fields.deliverFrom);
  const filterSubject = fields.filterSubject;
  if (filterSubject !== undefined) {
    const problem = patternProblem(filterSubject);
    if (problem !== undefined) {
      throw invalid(
        `filterSubject ${JSON.stringify(filterSubject)} ${problem}; write tokens like 'orders.*' or 'orders.>'`,
      );
    }
  }
  const ackWaitMs = integerField(
    fields,
    'ackWaitMs',
    CONSUMER_DEFAULTS.ackWaitMs,
    MIN_ACK_WAIT_MS,
    `use at least ${MIN_ACK_WAIT_MS} ms (and call progress() from long handlers instead of a tiny ack wait)`,
  );
  const backoffMs = fields.backoffMs ?? CONSUMER_DEFAULTS.backoffMs;
  if (!Array.isArray(backoffMs) || backoffMs.length > MAX_BACKOFF_ENTRIES) {
    throw invalid(`backoffMs must be a list of at most ${MAX_BACKOFF_ENTRIES} delays (the last one repeats)`);
  }
  for (const [i, delay] of backoffMs.entries()) {
    if (typeof delay !== 'number' || !Number.isSafeInteger(delay) || delay < 0) {
      throw invalid(`backoffMs[${i}] is ${String(delay)}; delays are whole milliseconds ≥ 0`);
    }
  }
  const maxDeliver = integerField(
    fields,
    'maxDeliver',
    CONSUMER_DEFAULTS.maxDeliver,
    1,
    'a message must be delivered at least once; after maxDeliver deliveries it is dead-lettered (never dropped)',
  );
  const maxAckPending = integerField(
    fields,
    'maxAckPending',
    CONSUMER_DEFAULTS.maxAckPending,
    1,
    'at least one unacked delivery must be allowed, or nothing is ever delivered',
  );
  return {
    name,
    durable,
    inactiveMs,
    mode,
    deliverFrom,
    ...(filterSubject === undefined ? {} : { filterSubject: filterSubject as string }),
    ackWaitMs,
    backoffMs: [...(backoffMs as number[])],
    maxDeliver,
    maxAckPending,
  };
}

/** Equal configs (both normalized by `validateConsumerConfig`). */
export function sameConsumerConfig(a: ConsumerConfig, b: ConsumerConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
