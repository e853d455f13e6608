import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { aeadOpen, aeadSealInto, NONCE_BYTES, TAG_BYTES } from '../../base/aead.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { Entry, EntryType } from '../types.js';
import type { DataKeyring } from './data-keyring.js';
import { ENTRY_FIXED_BYTES, writeEntryPayload } from './record-payloads.js';

/**
 * Encryption at rest of one WAL: entry payloads (the application's command bytes) and snapshot
 * data sealed with AES-256-GCM (base/aead.ts) under the keyring's active key. Raft metadata —
 * terms, indexes, entry types, hard state, snapshot metadata and configuration — stays in the
 * clear: replay and compaction need it without a key, and it says nothing of the data.
 *
 * Sealed entry payload (record type SealedEntry):
 *
 *   term f64 | index f64 | type u8 | key id u8 | nonce 12 | ciphertext (data length) | tag 16
 *
 * Sealed snapshot data (snapshot-file.ts): key id u8 | nonce 12 | ciphertext | tag 16.
 *
 * AAD. An entry's AAD is [1, store id, term, index, type, key id]; a snapshot's is
 * [2, store id, its metadata record, key id]. The store id is 16 random bytes made once per WAL
 * and restated at the start of every segment (record type StoreId), so a record cannot be moved
 * to another index or term, turned from entry into snapshot, or carried into another WAL sealed
 * under the same key (another raft group of the same server) without failing to open. Moving a
 * whole store, or rolling it back to an older copy of itself, is not detected (docs/SECURITY.md).
 *
 * Nonces: a sealer draws a random 64-bit prefix when it is made and seals with
 * prefix ‖ counter32, drawing a new prefix every 2^32 records. Every WalStorage.open makes a new
 * sealer, so after a crash the records rewritten over a truncated tail get a fresh prefix: a
 * (key, nonce) pair can only repeat if two of the prefixes ever drawn under one key are equal,
 * which for P prefixes has probability below P²/2^65 (10^6 restarts: < 3·10^-8). No nonce state
 * is persisted, so no rollback of the files can make it repeat either.
 */

export const STORE_ID_BYTES = 16;
/** Fixed bytes of a sealed entry payload besides the data: the entry fields, key id, nonce, tag. */
export const SEALED_ENTRY_FIXED_BYTES = ENTRY_FIXED_BYTES + 1 + NONCE_BYTES + TAG_BYTES;
/** Bytes sealed snapshot data adds to the plaintext. */
export const SEALED_SNAPSHOT_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;

const KEY_ID_AT = ENTRY_FIXED_BYTES;
const NONCE_AT = KEY_ID_AT + 1;
const DATA_AT = NONCE_AT + NONCE_BYTES;
const ENTRY_DOMAIN = 1;
const SNAPSHOT_DOMAIN = 2;
const ALGORITHM = 'aes-256-gcm';
const PREFIX_BYTES = 8;
const COUNTER_LIMIT = 2 ** 32;

/** Where a sealed thing lies, for error messages. */
export interface SealedAt {
  readonly file: string;
  readonly offset?: number;
}

/** Opens and seals the records of one store (one store id) with one keyring. */
export class RecordSealer {
  private readonly keys = new Map<number, KeyObject>();
  private readonly activeId: number;
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  private counter = COUNTER_LIMIT;
  private readonly entryAad = new Uint8Array(1 + STORE_ID_BYTES + ENTRY_FIXED_BYTES + 1);

  constructor(
    keyring: DataKeyring,
    readonly storeId: Uint8Array,
  ) {
    if (storeId.length !== STORE_ID_BYTES) {
      throw new ParleyError('DATA_LOSS', `malformed WAL store id record (${storeId.length} bytes)`);
    }
    for (const k of keyring.keys) this.keys.set(k.id, createSecretKey(k.key));
    this.activeId = keyring.active;
    this.entryAad[0] = ENTRY_DOMAIN;
    this.entryAad.set(storeId, 1);
  }

  static newStoreId(): Uint8Array {
    return new Uint8Array(randomBytes(STORE_ID_BYTES));
  }

  get activeKeyId(): number {
    return this.activeId;
  }

  /** Writes the sealed payload of `e` at `out[at]` (SEALED_ENTRY_FIXED_BYTES + data length bytes). */
  writeSealedEntry(out: Uint8Array, at: number, e: Entry): void {
    writeEntryPayload(out, at, { ...e, data: EMPTY });
    out[at + KEY_ID_AT] = this.activeId;
    const nonce = this.nextNonce();
    out.set(nonce, at + NONCE_AT);
    const aad = this.entryAad;
    aad.set(out.subarray(at, at + KEY_ID_AT + 1), 1 + STORE_ID_BYTES);
    aeadSealInto(ALGORITHM, this.keys.get(this.activeId)!, nonce, aad, e.data, out, at + DATA_AT);
  }

  /** Decodes and opens a sealed entry payload; throws a ParleyError saying which key and what to do. */
  openEntry(p: Uint8Array, where: SealedAt): Entry {
    if (p.length < SEALED_ENTRY_FIXED_BYTES) {
      throw new ParleyError('DATA_LOSS', 'malformed WAL sealed entry record (checksum matched, layout did not)');
    }
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const type = p[16]!;
    if (type !== 0 && type !== 1) {
      throw new ParleyError('DATA_LOSS', 'malformed WAL sealed entry record (unknown entry type)');
    }
    const term = v.getFloat64(0, true);
    const index = v.getFloat64(8, true);
    const keyId = p[KEY_ID_AT]!;
    const aad = this.entryAad;
    aad.set(p.subarray(0, KEY_ID_AT + 1), 1 + STORE_ID_BYTES);
    const data = this.open(
      keyId,
      p.subarray(NONCE_AT, DATA_AT),
      aad,
      p.subarray(DATA_AT, p.length - TAG_BYTES),
      p.subarray(p.length - TAG_BYTES),
      `entry ${index} (term ${term})`,
      where,
    );
    return { term, index, type: type as EntryType, data };
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
    const aad = new Uint8Array(1 + STORE_ID_BYTES + meta.length + 1);
    aad[0] = SNAPSHOT_DOMAIN;
    aad.set(this.storeId, 1);
    aad.set(meta, 1 + STORE_ID_BYTES);
    aad[aad.length - 1] = keyId;
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

/** The key id of a sealed entry payload, read without opening it (0 if too short). */
export function sealedEntryKeyId(p: Uint8Array): number {
  return p.length > KEY_ID_AT ? p[KEY_ID_AT]! : 0;
}

/** The index of a sealed entry payload, which is stored in the clear. */
export function sealedEntryIndex(p: Uint8Array): number {
  return p.length >= 16 ? new DataView(p.buffer, p.byteOffset, p.byteLength).getFloat64(8, true) : 0;
}

const EMPTY = new Uint8Array(0);
