import { createHash, createHmac, type KeyObject, sign, timingSafeEqual, verify } from 'node:crypto';
import { ParleyError } from '../../wire/parley-error.js';
import type { PeerIdentity } from '../connection.js';

/**
 * The authentication handshake's pure parts: the `auth` field of a HELLO, the AUTH body, the
 * transcript both sides prove, and the proofs themselves. No I/O, no state.
 *
 * Protocol (docs/PROTOCOL.md, "Authentication"):
 * 1. Each side's HELLO carries `auth: { v: 1, nonce, ephemeral, method, publicKey?, seal }`: 32
 *    fresh random bytes, a fresh X25519 public key (both base64url), how it proves itself, its
 *    Ed25519 public key in key mode, and whether it seals frames after AUTH.
 * 2. transcript = SHA-256(TAG || len || dialer's HELLO bytes || len || listener's HELLO bytes), the
 *    HELLO bodies exactly as sent. A proof is made over SHA-256(PROOF_TAG || transcript || role),
 *    role being the signer's ('dialer' | 'listener').
 * 3. AUTH body: `{ proof }` — an Ed25519 signature (key) or HMAC-SHA256 keyed by the cluster secret
 *    (secret); `{}` in TLS mode (the certificate is the proof); `{ token }` for a bearer token.
 *
 * Invariants: a proof verifies only for the exact pair of HELLOs (both nonces, both ephemeral keys,
 * both claimed node ids) and the signer's role it was made for, so a captured AUTH is worthless on
 * any other connection and cannot be reflected back at its sender; comparisons of secrets are
 * constant-time; every parser throws ParleyError INVALID_ARGUMENT on a malformed field.
 */

export type AuthMethod = 'key' | 'secret' | 'tls' | 'token' | 'none';
export type HandshakeRole = 'dialer' | 'listener';

const AUTH_METHODS: readonly AuthMethod[] = ['key', 'secret', 'tls', 'token', 'none'];
const TRANSCRIPT_TAG = 'parley-handshake-v1\0';
const PROOF_TAG = 'parley-auth-proof-v1\0';
export const NONCE_BYTES = 32;
const X25519_PUBLIC_BYTES = 32;
/** Longest token accepted in an AUTH body (characters); a JWT is rarely over 2 KiB. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const MAX_PROOF_LENGTH = 128;

/** The `auth` field of a HELLO. */
export interface HelloAuth {
  readonly v: 1;
  /** base64url of NONCE_BYTES random bytes, fresh for this connection. */
  readonly nonce: string;
  /** base64url of an X25519 public key, fresh for this connection. */
  readonly ephemeral: string;
  readonly method: AuthMethod;
  /** `PARLEY-PK-…`, in key mode. */
  readonly publicKey?: string;
  /** This side seals every frame it sends after its AUTH (and expects the same). */
  readonly seal: boolean;
}

/** The body of an AUTH packet (JSON). */
export interface AuthBody {
  readonly proof?: string;
  readonly token?: string;
}

function malformed(what: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', `protocol violation: malformed ${what}`);
}

function base64urlBytes(v: unknown, bytes: number, what: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v)) throw malformed(what);
  const out = Buffer.from(v, 'base64url');
  if (out.length !== bytes) throw malformed(what);
  return out;
}

/** Checks a HELLO's `auth` field; undefined when the peer sent none. */
export function parseHelloAuth(v: unknown): HelloAuth | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw malformed('HELLO auth');
  const a = v as Record<string, unknown>;
  if (a.v !== 1) {
    throw new ParleyError(
      'FAILED_PRECONDITION',
      `peer uses authentication handshake version ${typeof a.v === 'number' ? a.v : '(not a number)'}, this node speaks 1; run the same Parley version on both nodes`,
    );
  }
  base64urlBytes(a.nonce, NONCE_BYTES, 'HELLO auth nonce');
  base64urlBytes(a.ephemeral, X25519_PUBLIC_BYTES, 'HELLO auth ephemeral key');
  if (typeof a.method !== 'string' || !AUTH_METHODS.includes(a.method as AuthMethod))
    throw malformed('HELLO auth method');
  if (a.publicKey !== undefined && (typeof a.publicKey !== 'string' || a.publicKey.length > 128))
    throw malformed('HELLO auth public key');
  if (a.method === 'key' && a.publicKey === undefined) throw malformed('HELLO auth: key method without a public key');
  if (typeof a.seal !== 'boolean') throw malformed('HELLO auth seal flag');
  return {
    v: 1,
    nonce: a.nonce as string,
    ephemeral: a.ephemeral as string,
    method: a.method as AuthMethod,
    ...(a.publicKey === undefined ? {} : { publicKey: a.publicKey as string }),
    seal: a.seal,
  };
}

/** The ephemeral X25519 public key a HELLO's auth carries, as bytes. */
export function ephemeralKeyOf(auth: HelloAuth): Uint8Array {
  return base64urlBytes(auth.ephemeral, X25519_PUBLIC_BYTES, 'HELLO auth ephemeral key');
}

export function parseAuthBody(v: unknown): AuthBody {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed('AUTH');
  const a = v as Record<string, unknown>;
  if (a.proof !== undefined && (typeof a.proof !== 'string' || a.proof.length > MAX_PROOF_LENGTH))
    throw malformed('AUTH proof');
  if (a.token !== undefined && (typeof a.token !== 'string' || a.token.length > MAX_TOKEN_LENGTH))
    throw malformed('AUTH token');
  return {
    ...(a.proof === undefined ? {} : { proof: a.proof as string }),
    ...(a.token === undefined ? {} : { token: a.token as string }),
  };
}

/** What both sides prove: the two HELLOs exactly as sent, the dialer's first. */
export function handshakeTranscript(dialerHello: Uint8Array, listenerHello: Uint8Array): Uint8Array {
  const h = createHash('sha256').update(TRANSCRIPT_TAG);
  for (const part of [dialerHello, listenerHello]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length, 0);
    h.update(length).update(part);
  }
  return h.digest();
}

/** The bytes a proof signs: the transcript and the signer's role, so a proof cannot be reflected. */
function proofInput(transcript: Uint8Array, role: HandshakeRole): Buffer {
  return createHash('sha256').update(PROOF_TAG).update(transcript).update(role).digest();
}

/** Key mode: an Ed25519 signature over the proof input, base64url. */
export function keyProof(privateKey: KeyObject, transcript: Uint8Array, role: HandshakeRole): string {
  return sign(null, proofInput(transcript, role), privateKey).toString('base64url');
}

export function verifyKeyProof(
  publicKey: KeyObject,
  transcript: Uint8Array,
  role: HandshakeRole,
  proof: string | undefined,
): boolean {
  if (proof === undefined) return false;
  const signature = Buffer.from(proof, 'base64url');
  if (signature.length !== 64) return false;
  return verify(null, proofInput(transcript, role), publicKey, signature);
}

/** Secret mode: HMAC-SHA256 of the proof input keyed by the cluster secret, base64url. */
export function secretProof(secret: Uint8Array, transcript: Uint8Array, role: HandshakeRole): string {
  return createHmac('sha256', secret).update(proofInput(transcript, role)).digest('base64url');
}

export function verifySecretProof(
  secret: Uint8Array,
  transcript: Uint8Array,
  role: HandshakeRole,
  proof: string | undefined,
): boolean {
  if (proof === undefined) return false;
  const expected = Buffer.from(secretProof(secret, transcript, role), 'base64url');
  const given = Buffer.from(proof, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The name a CA-verified certificate proves, in gRPC's order (A43): the first URI SAN (a SPIFFE
 * id), else the first DNS SAN, else the subject CN. Undefined for an unverified certificate.
 */
export function tlsPrincipalName(identity: PeerIdentity | undefined): string | undefined {
  if (!identity?.authorized) return undefined;
  const sans = splitAltNames(identity.subjectAltName ?? '');
  const uri = sans.find((s) => s.startsWith('URI:'));
  if (uri) return uri.slice(4);
  const dns = sans.find((s) => s.startsWith('DNS:'));
  if (dns) return dns.slice(4);
  return identity.commonName || undefined;
}

/** Node prints SANs as `DNS:a, URI:spiffe://x/y`; an entry with a comma or quote is JSON-quoted. */
function splitAltNames(text: string): string[] {
  const out: string[] = [];
  const pattern = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of text.matchAll(pattern)) {
    let value = m[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    out.push(`${m[1]}:${value}`);
  }
  return out;
}
