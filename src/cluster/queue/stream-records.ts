import { bytesToUtf8 } from '../../kv/bytes.js';
import type { KvStateMachine } from '../../kv/kv-state-machine.js';
import { validateStreamConfig } from '../../queue/stream-config.js';
import type { StreamConfig } from '../../queue/types.js';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * A stream's record in the KV store: its configuration and the Raft group of each partition,
 * under `STREAM_PREFIX + name` (JSON). The placement records of those groups (group-placement.ts)
 * are written in the same transaction, so a stream exists exactly when its record does, and then
 * every one of its groups is placed.
 *
 * Invariant: `groups[p]` is `partitionGroupId(name, p)` for p = 0 … partitions − 1; a record that
 * does not parse is skipped by readers (never trusted half-way).
 */

export const STREAM_PREFIX = '$queue/streams/';

export interface StreamRecord {
  readonly config: StreamConfig;
  readonly groups: readonly string[];
}

/** The Raft group of partition `p` of `stream` (also its placement record's group id). */
export function partitionGroupId(stream: string, p: number): string {
  return `q.${stream}.${p}`;
}

const GROUP_ID = /^q\.([A-Za-z0-9_-]{1,64})\.(0|[1-9][0-9]{0,5})$/;

/**
 * The stream a partition group id belongs to (`q.<stream>.<partition>`), or undefined when it is
 * not one. Stream names have no dots, so the id names exactly one stream.
 */
export function streamOfGroup(groupId: unknown): string | undefined {
  if (typeof groupId !== 'string') return undefined;
  return GROUP_ID.exec(groupId)?.[1];
}

export function streamKey(name: string): string {
  return STREAM_PREFIX + name;
}

export function encodeStreamRecord(config: StreamConfig): string {
  const groups = Array.from({ length: config.partitions }, (_, p) => partitionGroupId(config.name, p));
  return JSON.stringify({ config, groups });
}

/** Parses a record; throws DATA_LOSS when it is not one (nothing but this module writes them). */
export function parseStreamRecord(value: string): StreamRecord {
  try {
    const json = JSON.parse(value) as { config?: unknown };
    const config = validateStreamConfig(json.config, { unknownFields: 'strip' });
    const groups = Array.from({ length: config.partitions }, (_, p) => partitionGroupId(config.name, p));
    return { config, groups };
  } catch (err) {
    throw new ParleyError('DATA_LOSS', `a stream record does not parse: ${ParleyError.from(err).message}`);
  }
}

/** Every stream record this KV state holds (serializable: call after a ReadIndex for a linearizable view). */
export function readStreamRecords(sm: KvStateMachine): StreamRecord[] {
  const out = sm.read({ range: { prefix: new TextEncoder().encode(STREAM_PREFIX) } });
  if (!out.ok || out.result.type !== 'range') return [];
  const records: StreamRecord[] = [];
  for (const kv of out.result.kvs) {
    try {
      records.push(parseStreamRecord(bytesToUtf8(kv.value)));
    } catch {
      // Skipped, see the invariant.
    }
  }
  return records;
}
