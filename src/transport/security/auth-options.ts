import type { KeyObject } from 'node:crypto';
import { ParleyError } from '../../wire/parley-error.js';
import type { PeerIdentity } from '../connection.js';
import type { Principal } from '../principal.js';
import type { AuthMethod } from './handshake-auth.js';
import { canonicalPublicKey, type NodeKeyPair, parsePublicKey, parseSecretKey } from './node-keys.js';
import { createTokenVerifier, type TokenOptions, type TokenVerifier } from './token-verifier.js';

/**
 * The authentication options a user writes (`NodeOptions.auth`), and their checked, parsed form
 * the handshake runs on. Every mistake a user can make here is reported when the node is created,
 * as a ParleyError INVALID_ARGUMENT naming the option and what to do.
 *
 * Invariants: a resolved secret is at least MIN_SECRET_LENGTH characters; every trusted key is
 * parsed and stored under its canonical spelling, and no two names share a key; a node that holds
 * a token can verify the server it gives it to (a trust list, the secret or TLS), so a token is
 * never sent to an unproven peer.
 */

export const MIN_SECRET_LENGTH = 32;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 2000;

/** A trusted node or client key: its public key and the groups its principal is in. */
export interface TrustedKey {
  readonly publicKey: string;
  readonly groups?: readonly string[];
}

/** What the `authenticate` hook is told about a connection; it decides last. */
export interface ConnectInfo {
  readonly remoteAddress: string;
  /** True when this node dialed. */
  readonly outbound: boolean;
  /** The node id the peer claims in its HELLO. */
  readonly nodeId: string;
  /** How the peer said it proves itself. */
  readonly method: AuthMethod;
  /** The peer's public key (key mode), as it presented it. */
  readonly publicKey?: string | undefined;
  /** The bearer token it presented (token mode), whether or not `tokens` could verify it. */
  readonly token?: string | undefined;
  /** Its TLS certificate, when there is one. */
  readonly tls?: PeerIdentity | undefined;
  /** What the built-in modes proved, if anything. */
  readonly principal?: Principal | undefined;
}

export interface AuthOptions {
  /** This node's Ed25519 secret key, `PARLEY-SK-…` (`parley keys gen`). */
  readonly key?: string;
  /**
   * Keys this node accepts, by name: the name is the principal (and, for a member, its node id).
   * A string is the path of a JSON file holding that object, re-read every second: a key removed
   * from it is revoked live (its connections are closed; SECURITY.md, Revocation).
   */
  readonly trust?: TrustList | string;
  /** A cluster secret every member holds (at least 32 characters): the simplest mode. */
  readonly secret?: string;
  /** The peer's CA-verified TLS certificate is its identity (needs `tls`; `tls.mutual` to verify dialers). */
  readonly tls?: boolean;
  /** A bearer token this node (a client) presents, once it has verified the server. */
  readonly token?: string | (() => string | Promise<string>);
  /** How this node verifies bearer tokens clients present; a string is the path of a JSON file of them, re-read every second. */
  readonly tokens?: TokenOptions | string;
  /**
   * Decides last: given what the connection presented and proved, returns its principal, or
   * undefined to refuse it. Called for every connection that completes the handshake.
   */
  readonly authenticate?: (info: ConnectInfo) => Promise<Principal | undefined> | Principal | undefined;
  /** A connection not authenticated within this many ms is closed (default 2000). */
  readonly handshakeTimeout?: number;
  /** Seal every frame after the handshake (default: on without TLS, off over TLS). */
  readonly encrypt?: boolean;
}

/** Trusted keys by name. */
export type TrustList = Readonly<Record<string, string | TrustedKey>>;

/** AuthOptions with its files read: what resolveAuth takes. */
export type LoadedAuthOptions = Omit<AuthOptions, 'trust' | 'tokens'> & {
  readonly trust?: TrustList;
  readonly tokens?: TokenOptions;
};

export interface TrustEntry {
  readonly name: string;
  readonly groups: readonly string[];
  readonly key: KeyObject;
}

/** AuthOptions checked and parsed: what the handshake of every connection runs on. */
export interface ResolvedAuth {
  /** How this node proves itself. */
  readonly method: AuthMethod;
  readonly keyPair: NodeKeyPair | undefined;
  /** Trusted keys by canonical `PARLEY-PK-…`. */
  readonly trust: ReadonlyMap<string, TrustEntry>;
  /** Names in the trust list: node ids only their key may claim. */
  readonly trustedNames: ReadonlySet<string>;
  readonly secret: Buffer | undefined;
  readonly tls: boolean;
  readonly token: (() => Promise<string>) | undefined;
  readonly verifyToken: TokenVerifier | undefined;
  readonly hook: AuthOptions['authenticate'];
  readonly handshakeTimeoutMs: number;
  /** Seal frames after the handshake (and require the peer to). */
  readonly seal: boolean;
  /** Connections are TLS: a token may travel in a clear AUTH. */
  readonly linkIsTls: boolean;
}

function invalid(message: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', message);
}

/** The text of a trust file: a JSON object of keys by name (the keys are checked by resolveAuth). */
export function parseTrustText(text: string, where: string): TrustList {
  const parsed = parseJsonObject(text, where);
  if (Object.keys(parsed).length === 0) throw invalid(`${where}: no keys; it must hold {"name": "PARLEY-PK-...", ...}`);
  return parsed as TrustList;
}

/** The text of a tokens file: a JSON object of TokenOptions (checked by resolveAuth). */
export function parseTokensText(text: string, where: string): TokenOptions {
  return parseJsonObject(text, where) as unknown as TokenOptions;
}

function parseJsonObject(text: string, where: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalid(`${where} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Checks and parses `auth`. `linkIsTls`: the node's transport is TLS; `hasCertificate`: this node
 * presents a certificate (tls.cert), so it can prove itself by TLS.
 */
export function resolveAuth(
  auth: LoadedAuthOptions,
  context: { readonly linkIsTls: boolean; readonly hasCertificate: boolean },
): ResolvedAuth {
  if (typeof auth !== 'object' || auth === null) throw invalid('auth must be an object (see AuthOptions)');
  if (typeof auth.trust !== 'object' && auth.trust !== undefined)
    throw invalid('auth.trust must be an object of keys by name, or the path of a JSON file of them');
  if (typeof auth.tokens !== 'object' && auth.tokens !== undefined)
    throw invalid('auth.tokens must be an object, or the path of a JSON file of it');
  const keyPair = auth.key === undefined ? undefined : withOption('auth.key', () => parseSecretKey(auth.key!));
  const trust = new Map<string, TrustEntry>();
  for (const [name, entry] of Object.entries(auth.trust ?? {})) {
    if (name === '' || /\s/.test(name))
      throw invalid(`auth.trust: '${name}' is not a valid name (no spaces, not empty)`);
    const text = typeof entry === 'string' ? entry : entry?.publicKey;
    const where = `auth.trust['${name}']`;
    const canonical = withOption(where, () => canonicalPublicKey(text as string));
    const previous = trust.get(canonical);
    if (previous)
      throw invalid(`${where}: the same key is already trusted as '${previous.name}'; give each key one name`);
    const groups = typeof entry === 'string' ? [] : [...(entry.groups ?? [])];
    trust.set(canonical, { name, groups, key: withOption(where, () => parsePublicKey(canonical)) });
  }
  let secret: Buffer | undefined;
  if (auth.secret !== undefined) {
    if (typeof auth.secret !== 'string' || auth.secret.length < MIN_SECRET_LENGTH) {
      throw invalid(
        `auth.secret must be at least ${MIN_SECRET_LENGTH} characters (got ${typeof auth.secret === 'string' ? auth.secret.length : typeof auth.secret}); make one with 'openssl rand -base64 32'`,
      );
    }
    secret = Buffer.from(auth.secret, 'utf8');
  }
  if (auth.tls && !context.linkIsTls)
    throw invalid('auth.tls needs the node to use TLS: set the tls option (with mutual: true to verify dialers)');
  const token = auth.token === undefined ? undefined : tokenSource(auth.token);
  if (token && trust.size === 0 && !secret && !auth.tls) {
    throw invalid(
      'auth.token needs a way to verify the server before the token is sent to it: auth.trust (its public key), auth.secret, or auth.tls',
    );
  }
  const verifyToken = auth.tokens === undefined ? undefined : createTokenVerifier(auth.tokens);
  if (auth.authenticate !== undefined && typeof auth.authenticate !== 'function')
    throw invalid('auth.authenticate must be a function (info) => Principal | undefined');
  const timeout = auth.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (!(timeout > 0)) throw invalid(`auth.handshakeTimeout must be a positive number of ms, got ${String(timeout)}`);
  // A node proves itself with the strongest credential it holds; a TLS client without a certificate
  // uses TLS only to verify the server.
  const byTls = auth.tls === true && context.hasCertificate;
  const method: AuthMethod = keyPair ? 'key' : secret ? 'secret' : byTls ? 'tls' : token ? 'token' : 'none';
  const encrypt = auth.encrypt ?? !context.linkIsTls;
  return {
    method,
    keyPair,
    trust,
    trustedNames: new Set([...trust.values()].map((t) => t.name)),
    secret,
    tls: auth.tls === true,
    token,
    verifyToken,
    hook: auth.authenticate,
    handshakeTimeoutMs: timeout,
    seal: encrypt,
    linkIsTls: context.linkIsTls,
  };
}

/** True when `auth` names a way to authenticate peers (what a node on a public address needs). */
export function authenticatesPeers(auth: AuthOptions | undefined): boolean {
  if (!auth) return false;
  return (
    typeof auth.trust === 'string' ||
    Object.keys(auth.trust ?? {}).length > 0 ||
    auth.secret !== undefined ||
    auth.tls === true ||
    auth.tokens !== undefined ||
    auth.authenticate !== undefined
  );
}

function tokenSource(token: AuthOptions['token']): () => Promise<string> {
  if (typeof token === 'string') {
    if (token === '') throw invalid('auth.token is empty');
    return () => Promise.resolve(token);
  }
  if (typeof token === 'function') return async () => token();
  throw invalid('auth.token must be a string or a function returning one');
}

function withOption<T>(option: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw invalid(`${option}: ${(err as Error).message}`);
  }
}
