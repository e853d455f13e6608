import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KEY_BYTES } from '../../base/aead.js';
import { permissionProblem } from '../../base/file-permissions.js';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * The data keys of encryption at rest: what a WAL seals its entry payloads and snapshot data
 * with (see record-sealer.ts), as users write them and as a key file holds them.
 *
 * Invariants: a key id is an integer in 1..255 (one byte in every sealed record; 0 is never a
 * key); a key is exactly 32 bytes (AES-256); ids are unique; the active id is one of the keys.
 * New records are sealed with the active key; a record sealed with any other key of the ring
 * still opens, so a key is rotated by adding a new one as active and retired by removing it once
 * no record on disk needs it (after a snapshot taken under the new key and the compaction that
 * follows it: docs/SECURITY.md, "Encryption at rest").
 *
 * Key file format (`parley server --data-key-file`), either
 *   - lines `ID:BASE64KEY` (blank lines and `#` comments allowed); the highest id is active; or
 *   - JSON `{"active": ID, "keys": {"ID": "BASE64KEY", ...}}`.
 */

export interface DataKey {
  /** 1..255, stored in every record sealed with this key. */
  readonly id: number;
  /** 32 random bytes. */
  readonly key: Uint8Array;
}

export interface DataKeyring {
  readonly keys: readonly DataKey[];
  /** The id of the key new records are sealed with. */
  readonly active: number;
}

/** The `encryption` option of `WalStorage.open`. */
export interface WalEncryption {
  readonly keyring: DataKeyring;
  /**
   * Accept entries and a snapshot written before encryption was turned on (in the clear) and
   * keep serving them until a snapshot and compaction replace them; false (the default): such a
   * store is refused, saying how to migrate it. Records sealed under a key are never accepted in
   * the clear in their place: this only concerns stores that were written without encryption.
   */
  readonly acceptPlaintext?: boolean;
}

/**
 * What a server is given (`startServer({ encryptionAtRest })`): a key file or the keyring itself,
 * and whether a store written in the clear may be migrated (see WalEncryption.acceptPlaintext).
 */
export interface EncryptionAtRestOptions {
  /** A data key file (format above); refused when other users can read it. */
  readonly keyFile?: string;
  /** The keyring itself, instead of a file. */
  readonly keyring?: DataKeyring;
  readonly acceptPlaintext?: boolean;
}

export const MAX_DATA_KEY_ID = 255;

function invalid(message: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', message);
}

/** Throws INVALID_ARGUMENT naming what is wrong with `ring`; returns it when it is well formed. */
export function checkDataKeyring(ring: DataKeyring, source = 'the data keyring'): DataKeyring {
  if (!Array.isArray(ring?.keys) || ring.keys.length === 0) throw invalid(`${source} holds no key`);
  const seen = new Set<number>();
  for (const k of ring.keys) {
    if (!Number.isInteger(k.id) || k.id < 1 || k.id > MAX_DATA_KEY_ID) {
      throw invalid(`${source}: key id ${String(k.id)} is not an integer in 1..${MAX_DATA_KEY_ID}`);
    }
    if (seen.has(k.id)) throw invalid(`${source}: key id ${k.id} appears twice`);
    seen.add(k.id);
    if (!(k.key instanceof Uint8Array) || k.key.length !== KEY_BYTES) {
      throw invalid(
        `${source}: key ${k.id} is ${k.key?.length ?? 0} bytes, expected ${KEY_BYTES} (make one with 'parley keys gen --data-key')`,
      );
    }
  }
  if (!seen.has(ring.active)) throw invalid(`${source}: the active key ${String(ring.active)} is not in the ring`);
  return ring;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeKey(text: string, id: number, source: string): Uint8Array {
  const t = text.trim();
  if (!BASE64.test(t)) throw invalid(`${source}: key ${id} is not base64`);
  return new Uint8Array(Buffer.from(t, 'base64'));
}

/** Parses a data key file's text (either format above); `source` names it in errors. */
export function parseDataKeyFile(text: string, source: string): DataKeyring {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: { active?: unknown; keys?: unknown };
    try {
      json = JSON.parse(trimmed) as typeof json;
    } catch (err) {
      throw invalid(`${source} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof json.keys !== 'object' || json.keys === null || Array.isArray(json.keys)) {
      throw invalid(`${source}: expected {"active": ID, "keys": {"ID": "BASE64KEY", ...}}`);
    }
    const keys = Object.entries(json.keys as Record<string, unknown>).map(([id, key]) => {
      const n = /^\d{1,3}$/.test(id) ? Number(id) : Number.NaN;
      if (typeof key !== 'string') throw invalid(`${source}: key ${id} is not a base64 string`);
      return { id: n, key: decodeKey(key, n, source) };
    });
    return checkDataKeyring({ keys, active: json.active as number }, source);
  }
  const keys: DataKey[] = [];
  trimmed.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\d{1,3})\s*:\s*(\S+)$/.exec(line);
    if (m === null) throw invalid(`${source} line ${i + 1}: expected ID:BASE64KEY (e.g. 1:${'A'.repeat(43)}=)`);
    const id = Number(m[1]);
    keys.push({ id, key: decodeKey(m[2]!, id, source) });
  });
  if (keys.length === 0) throw invalid(`${source} holds no key; make one with 'parley keys gen --data-key'`);
  return checkDataKeyring({ keys, active: Math.max(...keys.map((k) => k.id)) }, source);
}

/** Reads a data key file, refusing one that other users can read (as ssh refuses such a private key). */
export function readDataKeyFile(path: string): DataKeyring {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw invalid(`data key file ${path}: ${(err as Error).message}`);
  }
  const exposed = permissionProblem(path);
  if (exposed !== undefined) {
    throw new ParleyError(
      'PERMISSION_DENIED',
      `data key file ${path} ${exposed}; a key must be readable by its owner only: run 'chmod 600 ${path}'`,
    );
  }
  return parseDataKeyFile(text, `data key file ${path}`);
}

/** The WAL option for a server's `encryptionAtRest`: the keyring read (from the file) and checked. */
export function resolveEncryptionAtRest(o: EncryptionAtRestOptions): WalEncryption {
  if ((o.keyFile === undefined) === (o.keyring === undefined)) {
    throw invalid('encryptionAtRest takes exactly one of keyFile and keyring');
  }
  const keyring = o.keyFile !== undefined ? readDataKeyFile(o.keyFile) : checkDataKeyring(o.keyring!);
  return { keyring, ...(o.acceptPlaintext ? { acceptPlaintext: true } : {}) };
}

/** A new random data key as a key-file line `ID:BASE64KEY`. */
export function generateDataKeyLine(id = 1): string {
  if (!Number.isInteger(id) || id < 1 || id > MAX_DATA_KEY_ID) {
    throw invalid(`a data key id is an integer in 1..${MAX_DATA_KEY_ID}, got ${id}`);
  }
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}
