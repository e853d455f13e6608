import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { aeadOpen, aeadSealInto, NONCE_BYTES, TAG_BYTES } from '../../base/aead.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { Entry, EntryType } from '../types.js';
import type { DataKeyring } from './data-keyring.js';

/**
 * Encryption at rest of one WAL: entry data (the application's command bytes) and snapshot data
 * sealed with AES-256-GCM (base/aead.ts) under the keyring's active key. Raft metadata — terms,
 * indexes, entry types, data lengths, hard state, snapshot metadata and configuration — stays in
 * the clear: replay and compaction need it without a key, and it says nothing of the data.
 *
 * Sealed entries (record type SealedEntries): the contiguous entries of one save() (cut into
 * records of at most SEALED_RECORD_DATA_BYTES of data) under ONE AEAD operation, because making a
 * cipher costs as much as sealing a few kilobytes (bench/RESULTS.md, "Encryption at rest"):
 *
 *   key id u8 | nonce 12 | count u32 | first index f64 | count × (term f64, type u8, length u32)
 *   | ciphertext of the entries' data, concatenated | tag 16
 *
 * A torn write loses the whole record, which recovery allows (any prefix of an unsynced save).
 * Sealed snapshot data (snapshot-file.ts): key id u8 | nonce 12 | ciphertext | tag 16.
 *
 * AAD. An entries record's AAD is [1, store id, every byte before its ciphertext]; a snapshot's
 * is [2, store id, its metadata record, key id]. The store id is 16 random bytes made once per
 * WAL and restated at the start of every segment (record type StoreId), so a record cannot be
 * moved to other indexes or terms, turned from entries into a snapshot, or carried into another
 * WAL sealed under the same key (another raft group of the same server) without failing to open.
 * Moving a whole store, or rolling it back to an older copy of itself, is not detected
 * (docs/SECURITY.md).
 *
 * Nonces: a sealer draws a random 64-bit prefix when it is made and seals with
 * prefix ‖ counter32, drawing a new prefix every 2^32 records. Every WalStorage.open makes a new
 * sealer, so after a crash the records rewritten over a truncated tail get a fresh prefix: a
 * (key, nonce) pair can only repeat if two of the prefixes ever drawn under one key are equal,
 * which for P prefixes has probability below P²/2^65 (10^6 restarts: < 3·10^-8). No nonce state
 * is persisted, so no rollback of the files can make it repeat either.
 */

export const STORE_ID_BYTES = 16;
/** Most entry data one SealedEntries record carries (a save with more is cut into several). */
export const SEALED_RECORD_DATA_BYTES = 1024 * 1024;
/** Bytes sealed snapshot data adds to the plaintext. */
export const SEALED_SNAPSHOT_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;

const NONCE_AT = 1;
const COUNT_AT = NONCE_AT + NONCE_BYTES;
const FIRST_INDEX_AT = COUNT_AT + 4;
const HEADS_AT = FIRST_INDEX_AT + 8;
const HEAD_BYTES = 13;
const ENTRIES_DOMAIN = 1;
const SNAPSHOT_DOMAIN = 2;
const ALGORITHM = 'aes-256-gcm';
const PREFIX_BYTES = 8;
const COUNTER_LIMIT = 2 ** 32;

/** Where a sealed thing lies, for error messages. */
export interface SealedAt {
  readonly file: string;
  readonly offset?: number;
}

/** What a SealedEntries record says in the clear. */
export interface SealedEntriesHead {
  readonly keyId: number;
  readonly firstIndex: number;
  readonly count: number;
}

/** Payload bytes of a SealedEntries record holding `entries[from, to)`. */
export function sealedEntriesBytes(entries: readonly Entry[], from: number, to: number): number {
  let data = 0;
  for (let i = from; i < to; i++) data += entries[i]!.data.length;
  return HEADS_AT + HEAD_BYTES * (to - from) + data + TAG_BYTES;
}

/** Reads the clear part of a SealedEntries payload; null when it is too short to be one. */
export function sealedEntriesHead(p: Uint8Array): SealedEntriesHead | null {
  if (p.length < HEADS_AT + TAG_BYTES) return null;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return { keyId: p[0]!, count: v.getUint32(COUNT_AT, true), firstIndex: v.getFloat64(FIRST_INDEX_AT, true) };
}

function malformedEntries(why: string): ParleyError {
  return new ParleyError('DATA_LOSS', `malformed WAL sealed entries record (checksum matched, layout did not: ${why})`);
}

/** Opens and seals the records of one store (one store id) with one keyring. */
export class RecordSealer {
  private readonly keys = new Map<number, KeyObject>();
  private readonly activeId: number;
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  private counter = COUNTER_LIMIT;

  constructor(
    keyring: DataKeyring,
    readonly storeId: Uint8Array,
  ) {
    if (storeId.length !== STORE_ID_BYTES) {
      throw new ParleyError('DATA_LOSS', `malformed WAL store id record (${storeId.length} bytes)`);
    }
    for (const k of keyring.keys) this.keys.set(k.id, createSecretKey(k.key));
    this.activeId = keyring.active;
  }

  static newStoreId(): Uint8Array {
    return new Uint8Array(randomBytes(STORE_ID_BYTES));
  }

  get activeKeyId(): number {
    return this.activeId;
  }

  /**
   * Writes the SealedEntries payload of the contiguous `entries[from, to)` at `out[at]`
   * (sealedEntriesBytes(entries, from, to) bytes): the data is laid out in place, then sealed over itself.
   */
  writeSealedEntries(out: Uint8Array, at: number, entries: readonly Entry[], from: number, to: number): void {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    out[at] = this.activeId;
    const nonce = this.nextNonce();
    out.set(nonce, at + NONCE_AT);
    v.setUint32(at + COUNT_AT, to - from, true);
    v.setFloat64(at + FIRST_INDEX_AT, entries[from]!.index, true);
    let head = at + HEADS_AT;
    const dataAt = head + HEAD_BYTES * (to - from);
    let data = dataAt;
    for (let i = from; i < to; i++) {
      const e = entries[i]!;
      v.setFloat64(head, e.term, true);
      out[head + 8] = e.type;
      v.setUint32(head + 9, e.data.length, true);
      head += HEAD_BYTES;
      out.set(e.data, data);
      data += e.data.length;
    }
    const aad = this.aad(ENTRIES_DOMAIN, out.subarray(at, dataAt));
    aeadSealInto(ALGORITHM, this.keys.get(this.activeId)!, nonce, aad, out.subarray(dataAt, data), out, dataAt);
  }

  /** Opens a SealedEntries payload into its entries; throws a ParleyError saying which key and what to do. */
  openEntries(p: Uint8Array, where: SealedAt): Entry[] {
    const h = sealedEntriesHead(p);
    if (h === null) throw malformedEntries('too short');
    const dataAt = HEADS_AT + HEAD_BYTES * h.count;
    if (h.count === 0 || dataAt + TAG_BYTES > p.length) throw malformedEntries('entry count');
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    let total = 0;
    for (let i = 0; i < h.count; i++) total += v.getUint32(HEADS_AT + HEAD_BYTES * i + 9, true);
    if (dataAt + total + TAG_BYTES !== p.length) throw malformedEntries('data lengths');
    const data = this.open(
      h.keyId,
      p.subarray(NONCE_AT, NONCE_AT + NONCE_BYTES),
      this.aad(ENTRIES_DOMAIN, p.subarray(0, dataAt)),
      p.subarray(dataAt, p.length - TAG_BYTES),
      p.subarray(p.length - TAG_BYTES),
      `entries ${h.firstIndex}..${h.firstIndex + h.count - 1}`,
      where,
    );
    const out: Entry[] = [];
    let at = 0;
    for (let i = 0; i < h.count; i++) {
      const head = HEADS_AT + HEAD_BYTES * i;
      const type = p[head + 8]!;
      if (type !== 0 && type !== 1) throw malformedEntries('unknown entry type');
      const length = v.getUint32(head + 9, true);
      out.push({
        term: v.getFloat64(head, true),
        index: h.firstIndex + i,
        type: type as EntryType,
        data: data.subarray(at, at + length),
      });
      at += length;
    }
    return out;
  }

  /** Seals snapshot `data`, its metadata record `meta` bound as AAD: key id ‖ nonce ‖ ciphertext ‖ tag. */
  sealSnapshot(meta: Uint8Array, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(SEALED_SNAPSHOT_OVERHEAD + data.length);
    out[0] = this.activeId;
    const nonce = this.nextNonce();
    out.set(nonce, 1);
    aeadSealInto(ALGORITHM, this.keys.get(this.activeId)!, nonce, this.snapshotAad(meta, this.activeId), data, out, 13);
    return out;
  }

  openSnapshot(meta: Uint8Array, sealed: Uint8Array, where: SealedAt): Uint8Array {
    if (sealed.length < SEALED_SNAPSHOT_OVERHEAD) {
      throw new ParleyError('DATA_LOSS', `snapshot file ${where.file} is damaged: sealed data shorter than its tag`, {
        details: { file: where.file },
      });
    }
    const keyId = sealed[0]!;
    return this.open(
      keyId,
      sealed.subarray(1, 1 + NONCE_BYTES),
      this.snapshotAad(meta, keyId),
      sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES),
      sealed.subarray(sealed.length - TAG_BYTES),
      'snapshot data',
      where,
    );
  }

  private snapshotAad(meta: Uint8Array, keyId: number): Uint8Array {
    const aad = this.aad(SNAPSHOT_DOMAIN, meta, 1);
    aad[aad.length - 1] = keyId;
    return aad;
  }

  /** [domain, store id, bound, `extra` zero bytes for the caller to fill]. */
  private aad(domain: number, bound: Uint8Array, extra = 0): Uint8Array {
    const aad = new Uint8Array(1 + STORE_ID_BYTES + bound.length + extra);
    aad[0] = domain;
    aad.set(this.storeId, 1);
    aad.set(bound, 1 + STORE_ID_BYTES);
    return aad;
  }

  private open(
    keyId: number,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    what: string,
    where: SealedAt,
  ): Uint8Array {
    const at = `${where.file}${where.offset === undefined ? '' : ` at byte offset ${where.offset}`}`;
    const key = this.keys.get(keyId);
    if (key === undefined) {
      throw new ParleyError(
        'FAILED_PRECONDITION',
        `${what} in ${at} is sealed with data key ${keyId}, which the keyring does not hold: ` +
          `add key ${keyId} back to the data key file (a key may be retired only once a snapshot under a newer key and its compaction have replaced every record it sealed)`,
        { details: { reason: 'unknown-data-key', keyId, ...where } },
      );
    }
    try {
      return new Uint8Array(aeadOpen(ALGORITHM, key, nonce, aad, ciphertext, tag));
    } catch (err) {
      throw new ParleyError(
        'DATA_LOSS',
        `${what} in ${at} does not authenticate under data key ${keyId}: the data key file holds a different key ${keyId}, ` +
          'or the record was modified on disk (its checksum matched, so not by a torn write). Check the key file; ' +
          'otherwise restore this member from a healthy replica.',
        { details: { reason: 'tampered', keyId, ...where }, cause: err },
      );
    }
  }

  private nextNonce(): Uint8Array {
    if (this.counter >= COUNTER_LIMIT) {
      this.nonce.set(randomBytes(PREFIX_BYTES), 0);
      this.counter = 0;
    }
    const c = this.counter++;
    const n = this.nonce;
    n[8] = c >>> 24;
    n[9] = (c >>> 16) & 0xff;
    n[10] = (c >>> 8) & 0xff;
    n[11] = c & 0xff;
    return n;
  }
}

/** A sealed record met where no keyring was given. */
export function dataKeyRequired(keyId: number, where: SealedAt): ParleyError {
  const at = `${where.file}${where.offset === undefined ? '' : ` at byte offset ${where.offset}`}`;
  return new ParleyError(
    'FAILED_PRECONDITION',
    `${at} holds data sealed with data key ${keyId} (encryption at rest), but no data key was given: ` +
      'start with the data key file this store was written with (parley server --data-key-file FILE)',
    { details: { reason: 'data-key-required', keyId, ...where } },
  );
}
