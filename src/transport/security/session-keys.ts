import {
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import { type AeadAlgorithm, DEFAULT_AEAD, KEY_BYTES } from '../../base/aead.js';
import { sealError } from './seal-error.js';

/**
 * Session keys from an ephemeral X25519 exchange, for the two directions of one connection.
 *
 *   shared    = X25519(own private, peer public)                 refused when all zero
 *   ikm       = shared || psk                                     (psk only when given)
 *   salt      = SHA-256("parley session v1" || dialer public || listener public || transcript)
 *   d→l key   = HKDF-SHA256(ikm, salt, "parley v1 <algorithm> dialer->listener", 32)
 *   l→d key   = HKDF-SHA256(ikm, salt, "parley v1 <algorithm> listener->dialer", 32)
 *
 * Invariants:
 * - the dialer's `send` is the listener's `receive` and the other way round; the two directions
 *   never share a key, so a frame reflected back to its sender does not open;
 * - both public keys are bound into the salt by role, whatever the transcript holds, and the
 *   algorithm into the info, so one key is never used with two algorithms;
 * - ephemeral keys are used for one session: forward secrecy comes from forgetting them;
 * - a peer public key that is not 32 bytes, or that gives an all-zero secret (a low-order point,
 *   which would make the keys a function of the public transcript alone), is refused.
 *
 * The transcript is whatever both sides saw of the handshake (their HELLOs, the server's
 * challenge): hashing it into the salt makes a man in the middle who altered any of it derive
 * different keys, so the first sealed frame fails to open.
 */
export interface EphemeralKeyPair {
  /** The raw 32-byte X25519 public key, sent to the peer. */
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject;
}

export interface SessionKeys {
  readonly algorithm: AeadAlgorithm;
  /** Epoch-0 key of the frames this side sends. */
  readonly send: Uint8Array;
  /** Epoch-0 key of the frames this side receives. */
  readonly receive: Uint8Array;
}

export const X25519_PUBLIC_KEY_BYTES = 32;

/**
 * Raw public keys go in and out of Node as JWK (RFC 8037: `x` is the raw key, base64url): about ten
 * times cheaper than through DER, whose OpenSSL decoders cost ~100 µs per key on the bench machine.
 */
export function generateEphemeral(): EphemeralKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const x = publicKey.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('bug: an X25519 public key exported as JWK without x');
  return { publicKey: new Uint8Array(Buffer.from(x, 'base64url')), privateKey };
}

export function deriveSessionKeys(
  own: EphemeralKeyPair,
  peerPublic: Uint8Array,
  transcript: Uint8Array,
  dialer: boolean,
  psk?: Uint8Array,
  algorithm: AeadAlgorithm = DEFAULT_AEAD,
): SessionKeys {
  const shared = sharedSecret(own.privateKey, peerPublic);
  const ikm = psk && psk.length > 0 ? Buffer.concat([shared, psk]) : shared;
  const dialerPublic = dialer ? own.publicKey : peerPublic;
  const listenerPublic = dialer ? peerPublic : own.publicKey;
  const salt = createHash('sha256')
    .update('parley session v1')
    .update(dialerPublic)
    .update(listenerPublic)
    .update(transcript)
    .digest();
  const toListener = expand(ikm, salt, `parley v1 ${algorithm} dialer->listener`);
  const toDialer = expand(ikm, salt, `parley v1 ${algorithm} listener->dialer`);
  shared.fill(0);
  if (ikm !== shared) ikm.fill(0);
  return dialer
    ? { algorithm, send: toListener, receive: toDialer }
    : { algorithm, send: toDialer, receive: toListener };
}

function sharedSecret(privateKey: KeyObject, peerPublic: Uint8Array): Buffer {
  if (peerPublic.length !== X25519_PUBLIC_KEY_BYTES) {
    throw sealError(
      'bad-key',
      `peer X25519 public key is ${peerPublic.length} bytes, expected ${X25519_PUBLIC_KEY_BYTES}; the peer runs an incompatible handshake`,
    );
  }
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublic).toString('base64url') },
      format: 'jwk',
    });
    shared = diffieHellman({ privateKey, publicKey });
  } catch (err) {
    // OpenSSL refuses a derivation whose result is all zero (a low-order point) by throwing.
    throw lowOrder(err);
  }
  if (timingSafeEqual(shared, ALL_ZERO)) throw lowOrder(undefined);
  return shared;
}

function lowOrder(cause: unknown) {
  return sealError(
    'bad-key',
    'the peer X25519 public key is a low-order point (the shared secret is all zero); refusing the session — the peer is broken or hostile',
    cause,
  );
}

const ALL_ZERO = Buffer.alloc(32);

function expand(ikm: Uint8Array, salt: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, KEY_BYTES));
}
