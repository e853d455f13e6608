import {
  type CipherChaCha20Poly1305,
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  type KeyObject,
} from 'node:crypto';
import { ParleyError } from '../wire/parley-error.js';

/**
 * The one place Parley calls an AEAD cipher: the transport's sealed connections
 * (src/transport/security/frame-sealer.ts) and the WAL's encryption at rest
 * (src/raft/wal/record-sealer.ts) both come here, which is why it lives in base/, below both
 * layers. Every cipher and decipher is made here, with a 96-bit nonce the caller builds (from a
 * counter, or a random prefix and a counter) and `authTagLength: 16` on both sides: Node 20
 * still accepts a truncated GCM tag on decryption unless the length is pinned (DEP0182), which
 * would turn a 2^-128 forgery into a 2^-32 one. `test/crypto-hygiene.test.ts` refuses cipher calls
 * elsewhere in src/.
 *
 * Both algorithms take a 32-byte key and a 12-byte nonce and give a 16-byte tag, so the frame
 * layout does not depend on the choice. AES-256-GCM uses the CPU's AES and carry-less multiply
 * instructions; ChaCha20-Poly1305 is constant-time in software. The default is the faster of the
 * two on the machine `npm run bench -- security` last ran on (bench/RESULTS.md).
 */
export type AeadAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

/**
 * The default, by measurement (bench/RESULTS.md, "Message protection", 2026-12-03): on the bench
 * machine (AMD EPYC with AES-NI and VAES, Node 20 / OpenSSL 3.0) AES-256-GCM was as fast or
 * faster at every size (64 B: 12.8 vs 15.1 µs seal + open; 64 KiB: equal). On CPUs without AES
 * instructions ChaCha20-Poly1305 is the faster and constant-time choice: select it there.
 */
export const DEFAULT_AEAD: AeadAlgorithm = 'aes-256-gcm';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export function isAeadAlgorithm(value: unknown): value is AeadAlgorithm {
  return typeof value === 'string' && (AEAD_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * Encrypts `plaintext` and writes ciphertext then tag into `out` at `offset`
 * (plaintext.length + TAG_BYTES bytes). The nonce must never repeat for this key.
 */
export function aeadSealInto(
  algorithm: AeadAlgorithm,
  key: KeyObject,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  const cipher: CipherGCM | CipherChaCha20Poly1305 =
    algorithm === 'aes-256-gcm'
      ? createCipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES })
      : createCipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  let at = offset;
  if (plaintext.length > 0) {
    const body = cipher.update(plaintext);
    out.set(body, at);
    at += body.length;
  }
  const rest = cipher.final();
  if (rest.length > 0) {
    out.set(rest, at);
    at += rest.length;
  }
  out.set(cipher.getAuthTag(), at);
}

/**
 * Verifies and decrypts `ciphertext` (without its tag) under `tag`; returns the plaintext, which
 * is never handed out before the tag has verified. Throws UNAUTHENTICATED with `details.reason`
 * 'tampered' when it does not (the shape of the transport's seal errors, `isSealError`).
 */
export function aeadOpen(
  algorithm: AeadAlgorithm,
  key: KeyObject,
  nonce: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): Uint8Array {
  if (tag.length !== TAG_BYTES) {
    throw aeadError('truncated', `authentication tag of ${tag.length} bytes, expected ${TAG_BYTES}`);
  }
  const decipher: DecipherGCM | DecipherChaCha20Poly1305 =
    algorithm === 'aes-256-gcm'
      ? createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES })
      : createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad, { plaintextLength: ciphertext.length });
  decipher.setAuthTag(tag);
  const plaintext = ciphertext.length > 0 ? decipher.update(ciphertext) : EMPTY;
  try {
    decipher.final();
  } catch (err) {
    throw aeadError(
      'tampered',
      'message authentication failed: the frame was modified, sealed with another key, or never sealed',
      err,
    );
  }
  return plaintext;
}

const EMPTY = new Uint8Array(0);

/** The same error shape as transport's sealError (UNAUTHENTICATED, details.reason), made without importing it. */
function aeadError(reason: 'truncated' | 'tampered', message: string, cause?: unknown): ParleyError {
  return new ParleyError('UNAUTHENTICATED', message, { details: { reason }, cause });
}
