import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JWK } from 'jose';
import { ParleyError } from '../../wire/parley-error.js';
import type { Principal } from '../principal.js';

/**
 * Verifies bearer tokens (JWTs) with `jose`, and turns a verified token into a Principal.
 *
 * Invariants: the algorithm never comes from the token or the key material — it is pinned to the
 * configured list, which may only name asymmetric algorithms (EdDSA, ES256 by default; never
 * `none` or an HMAC); keys are public keys only (a symmetric JWK is refused when the options are
 * read); issuer, audience and expiry are always checked (a token without `exp` is refused) with a
 * bounded clock tolerance; a refusal is a ParleyError UNAUTHENTICATED whose message says why but
 * never contains the token. `jose` is loaded on the first token verified, so a node that verifies
 * no tokens never pays for it (about 7 MB of resident memory).
 */

export interface TokenOptions {
  /** The `iss` every token must carry. */
  readonly issuer: string;
  /** The `aud` every token must carry (one of them, when several). */
  readonly audience: string | readonly string[];
  /** Public keys tokens are signed with: JWK objects or PEM (SPKI) strings. */
  readonly keys: JsonWebKey | string | readonly (JsonWebKey | string)[];
  /** Accepted algorithms (default ['EdDSA', 'ES256']); asymmetric only. */
  readonly algorithms?: readonly string[];
  /** Allowed clock skew for exp/nbf/iat, seconds (default 30, at most 300). */
  readonly clockToleranceSec?: number;
  /** The claim listing the principal's groups (default 'groups'): an array of strings or a space-separated string. */
  readonly groupsClaim?: string;
}

const DEFAULT_ALGORITHMS = ['EdDSA', 'ES256'];
const ASYMMETRIC = /^(EdDSA|Ed25519|ES(256|384|512)|PS(256|384|512)|RS(256|384|512))$/;

export type TokenVerifier = (token: string) => Promise<Principal>;

/** Reads the options once (throws INVALID_ARGUMENT on a bad key or algorithm) and returns the verifier. */
export function createTokenVerifier(options: TokenOptions): TokenVerifier {
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  for (const alg of algorithms) {
    if (!ASYMMETRIC.test(alg)) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `auth.tokens.algorithms: '${alg}' is not allowed; use asymmetric algorithms such as EdDSA or ES256 (never none or HS256)`,
      );
    }
  }
  if (typeof options.issuer !== 'string' || options.issuer === '')
    throw new ParleyError('INVALID_ARGUMENT', 'auth.tokens.issuer is required (the iss tokens must carry)');
  const audience = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === ''))
    throw new ParleyError('INVALID_ARGUMENT', 'auth.tokens.audience is required (the aud tokens must carry)');
  const tolerance = options.clockToleranceSec ?? 30;
  if (!(tolerance >= 0 && tolerance <= 300))
    throw new ParleyError('INVALID_ARGUMENT', `auth.tokens.clockToleranceSec must be 0..300, got ${tolerance}`);
  const keys = (Array.isArray(options.keys) ? options.keys : [options.keys]) as (JsonWebKey | string)[];
  if (keys.length === 0) throw new ParleyError('INVALID_ARGUMENT', 'auth.tokens.keys needs at least one public key');
  const jwkSet = { keys: keys.map((k, i) => publicJwk(k, i)) };
  const groupsClaim = options.groupsClaim ?? 'groups';
  let verifier: Promise<(token: string) => ReturnType<typeof import('jose').jwtVerify>> | undefined;
  const load = () =>
    (verifier ??= import('jose').then(({ createLocalJWKSet, jwtVerify }) => {
      const jwks = createLocalJWKSet(jwkSet);
      return (token: string) =>
        jwtVerify(token, jwks, {
          algorithms,
          issuer: options.issuer,
          audience,
          clockTolerance: tolerance,
          requiredClaims: ['exp', 'sub'],
        });
    }));

  return async (token: string): Promise<Principal> => {
    const verify = await load();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await verify(token));
    } catch (err) {
      const expired = (err as { code?: unknown }).code === 'ERR_JWT_EXPIRED';
      throw new ParleyError('UNAUTHENTICATED', `token refused: ${describeJoseError(err)}`, {
        details: { reason: expired ? 'token-expired' : 'bad-token' },
      });
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub === '') throw new ParleyError('UNAUTHENTICATED', 'token refused: no subject');
    return { name: sub, groups: groupsOf(payload[groupsClaim]), via: 'token', authenticated: true, claims: payload };
  };
}

function publicJwk(key: JsonWebKey | string, index: number): JWK {
  try {
    if (typeof key === 'string' ? key.includes('PRIVATE KEY') : (key as { d?: unknown }).d !== undefined)
      throw new Error('this is a private key; give the public key only');
    const object =
      typeof key === 'string'
        ? createPublicKey({ key, format: 'pem' })
        : createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
    const jwk = object.export({ format: 'jwk' }) as JWK;
    const kid = typeof key === 'object' ? (key as { kid?: unknown }).kid : undefined;
    return typeof kid === 'string' ? { ...jwk, kid } : jwk;
  } catch (err) {
    throw new ParleyError(
      'INVALID_ARGUMENT',
      `auth.tokens.keys[${index}] is not a usable public key (a JWK or a PEM public key; symmetric keys are refused): ${(err as Error).message}`,
    );
  }
}

function groupsOf(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((g): g is string => typeof g === 'string');
  if (typeof claim === 'string') return claim.split(' ').filter((g) => g !== '');
  return [];
}

/** jose's errors, in words for the user (the token itself is never quoted). */
function describeJoseError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const claim = (err as { claim?: unknown }).claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'it has expired; get a new token';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `claim '${String(claim)}' is wrong or missing (${(err as Error).message})`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'its algorithm is not allowed (tokens must be signed with EdDSA or ES256)';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'its signature does not verify with any configured key';
    case 'ERR_JWT_INVALID':
    case 'ERR_JWS_INVALID':
      return 'it is not a well-formed signed JWT';
    default:
      return (err as Error).message ?? String(err);
  }
}
