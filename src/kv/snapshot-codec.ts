import { Packr } from 'msgpackr';
import { ParleyError } from '../wire/parley-error.js';
import { isErrorCode } from '../wire/status.js';
import type { AuthDump } from './auth/auth-store.js';
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
 * Layout (version 2; version 1 is the same without `auth`, and decodes with auth disabled):
 *   [2, appliedIndex, revision, compactRevision, nextLeaseId,
 *    keys:   [[key, [[main, sub, tombstone 0|1, value, createRevision, version, lease], ...]], ...],
 *    leases: [[id, ttlMs, remainingMs], ...],
 *    dedup:  [[clientId, floor, [[seq, outcome], ...]], ...],
 *    auth:   [enabled 0|1, authRevision, [[user, [role, ...]], ...], [[role, [[type, key, rangeEnd|null], ...]], ...]]]
 * A lease's keys are not stored: they are the live keys whose value names the lease.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

const VERSION = 2;
const NO_AUTH: AuthDump = [0, 0, [], []];

type Outcome = ApplyOutcome;

export interface DecodedSnapshot {
  appliedIndex: number;
  revision: number;
  compactRevision: number;
  nextLeaseId: number;
  keys: [string, KeyRecord[]][];
  leases: Lease[];
  dedup: [string, number, DedupEntry<Outcome>[]][];
  auth: AuthDump;
}

export interface SnapshotSource {
  appliedIndex: number;
  store: MvccStore;
  leases: LeaseTable;
  dedup: [string, number, DedupEntry<Outcome>[]][];
  /** Captured when encoding starts (a fresh structure: later auth changes do not reach it). */
  auth: AuthDump;
}

/** Records encoded per slice of a SnapshotEncoder: about 1 ms of work. */
const SLICE_RECORDS = 1024;

/** msgpack array header (the shortest form, as msgpackr writes it). */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return new Uint8Array([0x90 | n]);
  if (n < 0x10000) return new Uint8Array([0xdc, n >>> 8, n & 0xff]);
  return new Uint8Array([0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** packr.pack returns a view into its reusable buffer: copy before packing again. */
function packCopy(x: unknown): Uint8Array {
  return new Uint8Array(packr.pack(x));
}

/**
 * A snapshot encoded in slices, so that a large history does not stall the event loop. The
 * constructor captures the state: scalars and leases are encoded at once, each key's history
 * array is kept with its current length, and each retry-table client's list is copied. Records are immutable and history
 * arrays are only appended to (compaction and restore replace them; an aborted txn pops only
 * what it appended itself), so the first `length` records of a captured array stay exactly
 * the records at capture time, whatever is applied before the last `step()`.
 *
 * The bytes are those of `packr.pack` of the whole layout: the same state gives the same bytes.
 */
export class SnapshotEncoder {
  private readonly parts: Uint8Array[] = [];
  private readonly keys: [readonly KeyRecord[], number][] = [];
  private readonly leases: Uint8Array;
  private readonly auth: Uint8Array;
  private readonly dedup: [string, number, readonly DedupEntry<Outcome>[]][];
  private nextKey = 0;
  private nextClient = -1;
  private done = false;

  constructor(s: SnapshotSource) {
    for (const [, recs] of s.store.allRecords()) this.keys.push([recs, recs.length]);
    this.parts.push(arrayHeader(9));
    for (const x of [VERSION, s.appliedIndex, s.store.revision, s.store.compactRevision, s.leases.nextId]) {
      this.parts.push(packCopy(x));
    }
    this.parts.push(arrayHeader(this.keys.length));
    this.leases = packCopy(s.leases.all().map((l) => [l.id, l.ttlMs, l.remainingMs]));
    this.auth = packCopy(s.auth);
    // A client's entries are replaced in place as it makes requests: copy the lists (not the entries).
    this.dedup = s.dedup.map(([id, floor, entries]) => [id, floor, entries.slice()]);
  }

  /** Encodes the next keys and retry-table clients, about `maxRecords` records in all; true once everything is encoded. */
  step(maxRecords = SLICE_RECORDS): boolean {
    let budget = maxRecords;
    while (this.nextKey < this.keys.length && budget > 0) {
      const [recs, length] = this.keys[this.nextKey++]!;
      const rows: unknown[] = [];
      for (let i = 0; i < length; i++) {
        const r = recs[i]!;
        rows.push([r.main, r.sub, r.tombstone ? 1 : 0, r.kv.value, r.kv.createRevision, r.kv.version, r.kv.lease]);
      }
      this.parts.push(packCopy([recs[0]!.kv.key, rows]));
      budget -= length;
    }
    if (this.nextKey < this.keys.length) return false;
    if (this.nextClient < 0) {
      this.parts.push(this.leases, arrayHeader(this.dedup.length));
      this.nextClient = 0;
    }
    while (this.nextClient < this.dedup.length && budget > 0) {
      const [id, floor, entries] = this.dedup[this.nextClient++]!;
      this.parts.push(packCopy([id, floor, entries.map((e) => [e.seq, plain(outcomeToWire(e.result))])]));
      budget -= entries.length;
    }
    this.done = this.nextClient >= this.dedup.length;
    if (this.done) this.parts.push(this.auth);
    return this.done;
  }

  /** The snapshot; only after `step()` returned true. */
  bytes(): Uint8Array {
    if (!this.done) throw new ParleyError('INTERNAL', 'snapshot encoding is not finished');
    let size = 0;
    for (const p of this.parts) size += p.length;
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export function encodeSnapshot(s: SnapshotSource): Uint8Array {
  const e = new SnapshotEncoder(s);
  e.step(Number.POSITIVE_INFINITY);
  return e.bytes();
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
  const layoutOk = Array.isArray(raw) && ((raw[0] === 1 && raw.length === 8) || (raw[0] === 2 && raw.length === 9));
  if (!layoutOk) throw corrupt('unknown layout or version');
  const [, appliedIndex, revision, compactRevision, nextLeaseId, rawKeys, rawLeases, rawDedup, rawAuth] = raw as [
    number,
    number,
    number,
    number,
    number,
    [Uint8Array, [number, number, number, Uint8Array, number, number, number][]][],
    [number, number, number][],
    [string, number, [number, unknown][]][],
    unknown,
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
  const auth = rawAuth === undefined ? NO_AUTH : authFromWire(rawAuth);
  return { appliedIndex, revision, compactRevision, nextLeaseId, keys, leases, dedup, auth };
}

function authFromWire(x: unknown): AuthDump {
  const isInt = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  const isName = (n: unknown) => typeof n === 'string' && n.length > 0;
  const isKey = (b: unknown) => b instanceof Uint8Array;
  if (!Array.isArray(x) || x.length !== 4) throw corrupt('auth state has the wrong shape');
  const [enabled, revision, users, roles] = x as unknown[];
  const ok =
    (enabled === 0 || enabled === 1) &&
    isInt(revision) &&
    Array.isArray(users) &&
    users.every((u) => Array.isArray(u) && isName(u[0]) && Array.isArray(u[1]) && u[1].every(isName)) &&
    Array.isArray(roles) &&
    roles.every(
      (r) =>
        Array.isArray(r) &&
        isName(r[0]) &&
        Array.isArray(r[1]) &&
        r[1].every(
          (p: unknown) =>
            Array.isArray(p) &&
            ['read', 'write', 'readwrite'].includes(p[0]) &&
            isKey(p[1]) &&
            (p[2] === null || isKey(p[2])),
        ),
    );
  if (!ok) throw corrupt('auth state has the wrong shape');
  return x as AuthDump;
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
