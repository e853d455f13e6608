import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * Ed25519 node keys and their readable encoding.
 *
 * A key is written `PARLEY-SK-…` (secret) or `PARLEY-PK-…` (public) followed by RFC 4648 base32
 * (upper case, no padding) of the raw 32-byte key and a 4-byte checksum: the first four bytes of
 * SHA-256(prefix || raw key). So a secret key can never be mistaken for a public one (the prefix
 * is part of the checksum), and a mistyped, truncated or swapped character is caught with a clear
 * error instead of yielding another valid key.
 *
 * Invariants: `parseSecretKey(s).publicKey` is the key `encodePublicKey` wrote for the same pair;
 * every parse failure is a ParleyError INVALID_ARGUMENT naming what is wrong and never echoes a
 * secret key's characters.
 */

export const SECRET_KEY_PREFIX = 'PARLEY-SK-';
export const PUBLIC_KEY_PREFIX = 'PARLEY-PK-';
const RAW_KEY_BYTES = 32;
const CHECKSUM_BYTES = 4;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** DER prefixes that turn a raw Ed25519 key into PKCS#8 / SPKI, the forms node:crypto imports. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A node's key pair, parsed: the secret signs handshakes, the public key is what peers trust. */
export interface NodeKeyPair {
  readonly privateKey: KeyObject;
  /** The readable public key, `PARLEY-PK-…`. */
  readonly publicKey: string;
}

/** A new key pair in the readable encoding. */
export function generateNodeKeys(): { secretKey: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const raw = rawPrivate(privateKey);
  return { secretKey: encode(SECRET_KEY_PREFIX, raw), publicKey: publicKeyOf(privateKey) };
}

/** Parses `PARLEY-SK-…`; throws INVALID_ARGUMENT with the reason. */
export function parseSecretKey(text: string): NodeKeyPair {
  const raw = decode(SECRET_KEY_PREFIX, text, 'secret key');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** Parses `PARLEY-PK-…` into a key node:crypto verifies with; throws INVALID_ARGUMENT with the reason. */
export function parsePublicKey(text: string): KeyObject {
  const raw = decode(PUBLIC_KEY_PREFIX, text, 'public key');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The canonical spelling of a public key (so trust lists compare exactly); throws like parsePublicKey. */
export function canonicalPublicKey(text: string): string {
  return encode(PUBLIC_KEY_PREFIX, decode(PUBLIC_KEY_PREFIX, text, 'public key'));
}

function publicKeyOf(privateKey: KeyObject): string {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return encode(PUBLIC_KEY_PREFIX, Buffer.from(jwk.x as string, 'base64url'));
}

function rawPrivate(privateKey: KeyObject): Buffer {
  return Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
}

function checksum(prefix: string, raw: Uint8Array): Buffer {
  return createHash('sha256').update(prefix).update(raw).digest().subarray(0, CHECKSUM_BYTES);
}

function encode(prefix: string, raw: Uint8Array): string {
  return prefix + base32(Buffer.concat([raw, checksum(prefix, raw)]));
}

function decode(prefix: string, text: unknown, what: string): Buffer {
  const other = prefix === SECRET_KEY_PREFIX ? PUBLIC_KEY_PREFIX : SECRET_KEY_PREFIX;
  if (typeof text !== 'string') throw badKey(`a Parley ${what} must be a string starting with '${prefix}'`);
  const trimmed = text.trim();
  if (trimmed.startsWith(other)) {
    throw badKey(
      `this is a Parley ${other === SECRET_KEY_PREFIX ? 'secret' : 'public'} key ('${other}…'), where a ${what} ('${prefix}…') is expected`,
    );
  }
  if (!trimmed.startsWith(prefix)) {
    throw badKey(`not a Parley ${what}: it must start with '${prefix}' (make one with 'parley keys gen')`);
  }
  const bytes = unbase32(trimmed.slice(prefix.length));
  if (bytes === undefined || bytes.length !== RAW_KEY_BYTES + CHECKSUM_BYTES) {
    throw badKey(
      `malformed Parley ${what}: expected ${base32Length(RAW_KEY_BYTES + CHECKSUM_BYTES)} base32 characters (A-Z, 2-7) after '${prefix}'`,
    );
  }
  const raw = bytes.subarray(0, RAW_KEY_BYTES);
  if (!checksum(prefix, raw).equals(bytes.subarray(RAW_KEY_BYTES))) {
    throw badKey(`Parley ${what} fails its checksum: it was mistyped or truncated; copy it again`);
  }
  return Buffer.from(raw);
}

function badKey(message: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', message);
}

function base32Length(bytes: number): number {
  return Math.ceil((bytes * 8) / 5);
}

/** RFC 4648 base32, upper case, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The inverse of base32; undefined on a character outside the alphabet or non-zero trailing bits. */
export function unbase32(text: string): Buffer | undefined {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits >= 5 || buffer !== 0) return undefined;
  return Buffer.from(out);
}
