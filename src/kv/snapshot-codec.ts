import { Packr } from 'msgpackr';
import { ParleyError } from '../wire/parley-error.js';
import { isErrorCode } from '../wire/status.js';
import { byteString } from './bytes.js';
import { plain, restoreBytes } from './command-codec.js';
import type { DedupEntry } from './dedup.js';
import type { Lease, LeaseTable } from './leases.js';
import type { KeyRecord, MvccStore } from './mvcc-store.js';
import type { ApplyOutcome, KeyValue } from './types.js';

/**
 * Snapshot encoding (commands have their own codec, `command-codec.ts`): msgpack of arrays only (no maps in the state part, no record extension),
 * keys in byte order, leases by id, dedup clients in insertion order. The same state therefore
 * always gives the same bytes. Leader-local lease deadlines are not part of it.
 *
 * Layout (version 1):
 *   [1, appliedIndex, revision, compactRevision, nextLeaseId,
 *    keys:   [[key, [[main, sub, tombstone 0|1, value, createRevision, version, lease], ...]], ...],
 *    leases: [[id, ttlMs, remainingMs], ...],
 *    dedup:  [[clientId, floor, [[seq, outcome], ...]], ...]]
 * A lease's keys are not stored: they are the live keys whose value names the lease.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

const VERSION = 1;

type Outcome = ApplyOutcome;

export interface DecodedSnapshot {
  appliedIndex: number;
  revision: number;
  compactRevision: number;
  nextLeaseId: number;
  keys: [string, KeyRecord[]][];
  leases: Lease[];
  dedup: [string, number, DedupEntry<Outcome>[]][];
}

export function encodeSnapshot(s: {
  appliedIndex: number;
  store: MvccStore;
  leases: LeaseTable;
  dedup: [string, number, DedupEntry<Outcome>[]][];
}): Uint8Array {
  const keys: unknown[] = [];
  for (const [, recs] of s.store.allRecords()) {
    keys.push([
      recs[0]!.kv.key,
      recs.map((r) => [r.main, r.sub, r.tombstone ? 1 : 0, r.kv.value, r.kv.createRevision, r.kv.version, r.kv.lease]),
    ]);
  }
  const leases = s.leases.all().map((l) => [l.id, l.ttlMs, l.remainingMs]);
  const dedup = s.dedup.map(([id, floor, entries]) => [
    id,
    floor,
    entries.map((e) => [e.seq, plain(outcomeToWire(e.result))]),
  ]);
  // A copy: msgpackr returns a Buffer view into its reusable output buffer.
  return new Uint8Array(
    packr.pack([
      VERSION,
      s.appliedIndex,
      s.store.revision,
      s.store.compactRevision,
      s.leases.nextId,
      keys,
      leases,
      dedup,
    ]),
  );
}

function corrupt(what: string): ParleyError {
  return new ParleyError('DATA_LOSS', `kv snapshot is corrupt: ${what}`);
}

/** Decodes a snapshot; anything malformed fails with DATA_LOSS (never a TypeError). */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  try {
    return decodeSnapshotUnchecked(bytes);
  } catch (err) {
    if (err instanceof ParleyError) throw err;
    throw new ParleyError('DATA_LOSS', 'kv snapshot is corrupt: unexpected shape', { cause: err });
  }
}

function decodeSnapshotUnchecked(bytes: Uint8Array): DecodedSnapshot {
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new ParleyError('DATA_LOSS', 'kv snapshot is not valid msgpack', { cause: err });
  }
  if (!Array.isArray(raw) || raw.length !== 8 || raw[0] !== VERSION) throw corrupt('unknown layout or version');
  const [, appliedIndex, revision, compactRevision, nextLeaseId, rawKeys, rawLeases, rawDedup] = raw as [
    number,
    number,
    number,
    number,
    number,
    [Uint8Array, [number, number, number, Uint8Array, number, number, number][]][],
    [number, number, number][],
    [string, number, [number, unknown][]][],
  ];
  const keys: [string, KeyRecord[]][] = rawKeys.map(([kb, recs]) => {
    const key = new Uint8Array(kb);
    return [
      byteString(key),
      recs.map(([main, sub, tomb, value, createRevision, version, lease]) => {
        const kv: KeyValue = { key, value: new Uint8Array(value), createRevision, modRevision: main, version, lease };
        return { main, sub, tombstone: tomb === 1, kv };
      }),
    ];
  });
  const leases: Lease[] = rawLeases.map(([id, ttlMs, remainingMs]) => ({
    id,
    ttlMs,
    remainingMs,
    keys: new Set<string>(),
    deadline: Number.POSITIVE_INFINITY,
  }));
  const byId = new Map(leases.map((l) => [l.id, l]));
  for (const [k, recs] of keys) {
    const last = recs[recs.length - 1]!;
    if (!last.tombstone && last.kv.lease !== 0) {
      const l = byId.get(last.kv.lease);
      if (l === undefined) throw corrupt(`key attached to unknown lease ${last.kv.lease}`);
      l.keys.add(k);
    }
  }
  const dedup = rawDedup.map(
    ([id, floor, entries]) =>
      [id, floor, entries.map(([seq, o]) => ({ seq, result: outcomeFromWire(o) }))] as [
        string,
        number,
        DedupEntry<Outcome>[],
      ],
  );
  return { appliedIndex, revision, compactRevision, nextLeaseId, keys, leases, dedup };
}

function outcomeToWire(o: Outcome): unknown {
  if (o.ok) return o;
  return { ok: false, error: { code: o.error.code, message: o.error.message, details: o.error.details } };
}

function outcomeFromWire(o: unknown): Outcome {
  const r = restoreBytes(o) as { ok: boolean; error?: { code: unknown; message: string; details?: unknown } };
  if (r.ok) return r as Outcome;
  const e = r.error!;
  const code = isErrorCode(e.code) ? e.code : 'INTERNAL';
  return {
    ok: false,
    error: new ParleyError(code, e.message, e.details === undefined ? {} : { details: e.details }),
  };
}
