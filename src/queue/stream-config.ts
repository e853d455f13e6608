import { ParleyError } from '../wire/parley-error.js';
import { patternProblem, patternsOverlap } from './subject.js';
import type { DiscardPolicy, RetentionPolicy, StreamConfig } from './types.js';

/**
 * Validation and defaults of a stream's configuration (docs/QUEUES.md, "Limits"), which changes
 * an update may make, and whether two streams claim a common subject.
 *
 * Invariant: `validateStreamConfig` returns a complete StreamConfig whose fields are always built
 * in the same order, so equal inputs give deep-equal configs that encode to the same bytes (the
 * config is part of a partition's snapshot). Every refusal is INVALID_ARGUMENT naming the field
 * and its allowed range; an update that would change what stored data means (partitions,
 * retention, compaction by key) is FAILED_PRECONDITION.
 */

export const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_PARTITIONS = 64;
export const MAX_SUBJECTS_PER_STREAM = 64;
/** Largest maxMessageBytes: a publish of one such message still fits one Raft entry with room to spare. */
export const MAX_MESSAGE_BYTES_LIMIT = 8 * 1024 * 1024;
export const MAX_DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;
export const MAX_DELAY_MS_LIMIT = 30 * 24 * 60 * 60 * 1000;

export const STREAM_DEFAULTS = {
  partitions: 1,
  replicas: 3,
  retention: 'limits' as RetentionPolicy,
  discard: 'old' as DiscardPolicy,
  maxMessages: 0,
  maxBytes: 0,
  maxAgeMs: 0,
  maxMessageBytes: 1024 * 1024,
  dedupWindowMs: 120_000,
  compactByKey: false,
  maxDelayMs: 24 * 60 * 60 * 1000,
} as const;

const FIELDS = new Set([
  'name',
  'subjects',
  'partitions',
  'replicas',
  'retention',
  'discard',
  'maxMessages',
  'maxBytes',
  'maxAgeMs',
  'maxMessageBytes',
  'dedupWindowMs',
  'compactByKey',
  'maxDelayMs',
]);
const RETENTIONS: readonly RetentionPolicy[] = ['limits', 'work-queue'];
const DISCARDS: readonly DiscardPolicy[] = ['old', 'new'];
const REPLICAS = [1, 3, 5];

function invalid(message: string, field: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', `stream config: ${message}`, { details: { field } });
}

function shown(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.slice(0, 64));
  if (typeof x === 'number' || typeof x === 'boolean' || x === null || x === undefined) return String(x);
  return Array.isArray(x) ? 'an array' : `a ${typeof x}`;
}

function integer(input: Record<string, unknown>, field: string, fallback: number, min: number, max: number): number {
  const x = input[field];
  if (x === undefined) return fallback;
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in ${min}..${max}`;
    throw invalid(`${field} is ${shown(x)}; it must be ${range}`, field);
  }
  return x;
}

function oneOf<T extends string>(input: Record<string, unknown>, field: string, allowed: readonly T[], fallback: T): T {
  const x = input[field];
  if (x === undefined) return fallback;
  if (!allowed.includes(x as T))
    throw invalid(`${field} is ${shown(x)}; it must be one of ${allowed.join(', ')}`, field);
  return x as T;
}

export interface ValidateOptions {
  /** 'refuse' (default: a misspelt limit must not silently become "no limit") or 'strip' (a decoded command from a newer member). */
  readonly unknownFields?: 'refuse' | 'strip';
}

/** The complete, normalised config for `input`, or INVALID_ARGUMENT naming the field. */
export function validateStreamConfig(input: unknown, options: ValidateOptions = {}): StreamConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || input instanceof Uint8Array) {
    throw invalid('expected an object with at least a name', 'name');
  }
  const x = input as Record<string, unknown>;
  if (options.unknownFields !== 'strip') {
    for (const k of Object.keys(x)) {
      if (!FIELDS.has(k)) throw invalid(`unknown field ${shown(k)} (known: ${[...FIELDS].join(', ')})`, k);
    }
  }
  if (typeof x.name !== 'string' || !STREAM_NAME.test(x.name)) {
    throw invalid(`name is ${shown(x.name)}; it must be 1..64 letters, digits, '_' or '-'`, 'name');
  }
  const name = x.name;
  let subjects: string[];
  if (x.subjects === undefined) subjects = [name];
  else {
    if (!Array.isArray(x.subjects) || x.subjects.length === 0 || x.subjects.length > MAX_SUBJECTS_PER_STREAM) {
      throw invalid(`subjects must be an array of 1..${MAX_SUBJECTS_PER_STREAM} subject patterns`, 'subjects');
    }
    subjects = [];
    for (let i = 0; i < x.subjects.length; i++) {
      const p: unknown = x.subjects[i];
      const problem = patternProblem(p);
      if (problem !== undefined) throw invalid(`subjects[${i}] ${problem}`, 'subjects');
      if (subjects.includes(p as string)) throw invalid(`subjects[${i}] ${shown(p)} is listed twice`, 'subjects');
      subjects.push(p as string);
    }
  }
  const d = STREAM_DEFAULTS;
  const partitions = integer(x, 'partitions', d.partitions, 1, MAX_PARTITIONS);
  const replicas = x.replicas === undefined ? d.replicas : (x.replicas as number);
  if (!REPLICAS.includes(replicas)) throw invalid(`replicas is ${shown(x.replicas)}; it must be 1, 3 or 5`, 'replicas');
  const retention = oneOf(x, 'retention', RETENTIONS, d.retention);
  const discard = oneOf(x, 'discard', DISCARDS, d.discard);
  const maxMessages = integer(x, 'maxMessages', d.maxMessages, 0, Number.MAX_SAFE_INTEGER);
  const maxBytes = integer(x, 'maxBytes', d.maxBytes, 0, Number.MAX_SAFE_INTEGER);
  const maxAgeMs = integer(x, 'maxAgeMs', d.maxAgeMs, 0, Number.MAX_SAFE_INTEGER);
  const maxMessageBytes = integer(x, 'maxMessageBytes', d.maxMessageBytes, 1, MAX_MESSAGE_BYTES_LIMIT);
  const dedupWindowMs = integer(x, 'dedupWindowMs', d.dedupWindowMs, 0, MAX_DEDUP_WINDOW_MS);
  if (x.compactByKey !== undefined && typeof x.compactByKey !== 'boolean') {
    throw invalid(`compactByKey is ${shown(x.compactByKey)}; it must be true or false`, 'compactByKey');
  }
  const compactByKey = (x.compactByKey as boolean | undefined) ?? d.compactByKey;
  const maxDelayMs = integer(x, 'maxDelayMs', d.maxDelayMs, 0, MAX_DELAY_MS_LIMIT);
  if (maxBytes > 0 && maxBytes < maxMessageBytes) {
    throw invalid(
      `maxBytes ${maxBytes} is below maxMessageBytes ${maxMessageBytes}; raise maxBytes or lower maxMessageBytes (one message must fit)`,
      'maxBytes',
    );
  }
  return {
    name,
    subjects,
    partitions,
    replicas,
    retention,
    discard,
    maxMessages,
    maxBytes,
    maxAgeMs,
    maxMessageBytes,
    dedupWindowMs,
    compactByKey,
    maxDelayMs,
  };
}

/** Fields whose change would change what stored messages mean, or where they live. */
const FIXED: readonly (keyof StreamConfig)[] = ['name', 'partitions', 'retention', 'compactByKey', 'replicas'];

/**
 * Whether `next` may replace `current` (stream-update): FAILED_PRECONDITION naming the first
 * field that may not change. Subjects, limits, discard, maxMessageBytes, dedupWindowMs and
 * maxDelayMs may change; lowered limits apply at once (the oldest messages go).
 */
export function checkStreamUpdate(current: StreamConfig, next: StreamConfig): void {
  for (const field of FIXED) {
    if (current[field] !== next[field]) {
      const why =
        field === 'partitions'
          ? ' (keys would move to other partitions and lose their order)'
          : field === 'replicas'
            ? ' (not supported yet)'
            : '';
      throw new ParleyError(
        'FAILED_PRECONDITION',
        `stream ${current.name}: ${field} cannot change from ${shown(current[field])} to ${shown(next[field])}${why}; create a new stream instead`,
        { details: { field } },
      );
    }
  }
}

/** The first pair of subject patterns two streams share (a subject could match both), or undefined. */
export function sharedSubject(a: StreamConfig, b: StreamConfig): [string, string] | undefined {
  for (const p of a.subjects) for (const q of b.subjects) if (patternsOverlap(p, q)) return [p, q];
  return undefined;
}
