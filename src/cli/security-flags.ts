import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { permissionProblem } from '../base/file-permissions.js';
import { type AuthOptions, authenticatesPeers, type TrustedKey } from '../transport/security/auth-options.js';
import { tlsPrincipalName } from '../transport/security/handshake-auth.js';
import { canonicalPublicKey, parseSecretKey } from '../transport/security/node-keys.js';
import { createTokenVerifier, type TokenOptions } from '../transport/security/token-verifier.js';
import type { TlsOptions } from '../transport/tls-options.js';
import { KEY_ENV, processSources, SECRET_ENV, type SettingSources, TRUST_ENV } from './settings.js';
import { UsageError } from './usage-error.js';

/**
 * The security flags every command that starts or connects a node takes, turned into the node's
 * `auth`, `tls` and `insecure` options. One place, so `parley server`, `node`, `call`, `kv` … read
 * them the same way; the values may also come from PARLEY_* variables and parley.config.json
 * (settings.ts).
 *
 * Invariants: secrets are read from files (or PARLEY_SECRET / PARLEY_KEY / PARLEY_TOKEN, the
 * environment being private to the user, where a command line is not), never from a flag's
 * value, except `--token`, whose value is short-lived by design (a `@file` form exists); a key,
 * secret or token file that other users can read is refused, as ssh refuses such a private key;
 * every problem with a file is a UsageError naming the flag, the file and what to do.
 */

const fileFlag = { type: 'string' } as const;

/** Flags of commands that connect to a mesh (call, emit, status, kv, cluster). */
export const CLIENT_SECURITY_FLAGS = {
  key: fileFlag,
  trust: fileFlag,
  'secret-file': fileFlag,
  token: { type: 'string' },
  'tls-cert': fileFlag,
  'tls-key': fileFlag,
  'tls-ca': fileFlag,
  mtls: { type: 'boolean' },
} as const;

/** Flags of commands whose node listens (server, node): the client's, and --insecure. */
export const LISTENER_SECURITY_FLAGS = {
  ...CLIENT_SECURITY_FLAGS,
  tokens: fileFlag,
  insecure: { type: 'boolean' },
} as const;

const COMMON_HELP = `Security (see docs/CLI.md#security; each flag also has a PARLEY_* variable):
  --secret-file FILE   a cluster secret (32+ characters) every member holds; or PARLEY_SECRET=value
  --key FILE           this node's key (PARLEY-SK-..., from 'parley keys gen'); with --trust;
                       or PARLEY_KEY=PARLEY-SK-...
  --trust FILE         JSON {"name": "PARLEY-PK-..." | {"publicKey": ..., "groups": [...]}}: the keys
                       accepted, by name; a key's name is the node id it must use;
                       or PARLEY_TRUST=name=PARLEY-PK-...,...
  --token T|@FILE      a bearer token to present to the servers (needs --trust or --secret-file
                       to verify them first)
  --tls-cert FILE --tls-key FILE --tls-ca FILE   TLS; --mtls: both sides present certificates
                       and a certificate's name is the node id it must use
Key, secret and token files must not be readable by other users (chmod 600 FILE).`;

export const CLIENT_SECURITY_HELP = COMMON_HELP;
export const LISTENER_SECURITY_HELP = `${COMMON_HELP}
  --tokens FILE        accept clients' bearer tokens: JSON {"issuer", "audience", "keys": [PEM or
                       JWK public keys], "algorithms"?, "groupsClaim"?}; or PARLEY_TOKENS_FILE
Listening on a host other than loopback needs one of them, or --insecure to run open on purpose.`;

/** What the flags give a node; `identity` is the node id a key or certificate proves, when known. */
export interface NodeSecurity {
  readonly auth?: AuthOptions;
  readonly tls?: TlsOptions;
  readonly insecure?: true;
  readonly identity?: string;
}

/** Reads the security flags (already merged with settings by parseCommandArgs). */
export function securityFromFlags(
  flags: Record<string, unknown>,
  usage: string,
  sources: SettingSources = processSources(),
): NodeSecurity {
  const str = (name: string) =>
    typeof flags[name] === 'string' && flags[name] !== '' ? (flags[name] as string) : undefined;
  const auth: { -readonly [K in keyof AuthOptions]: AuthOptions[K] } = {};
  let identity: string | undefined;
  let ownPublicKey: string | undefined;

  const keyFile = str('key');
  const keyValue = envValue(sources, KEY_ENV);
  if (keyFile !== undefined || keyValue !== undefined) {
    const where = keyFile !== undefined ? `--key ${keyFile}` : KEY_ENV;
    const text = keyFile !== undefined ? readSecretFile('--key', keyFile, usage) : keyValue!;
    const match = /PARLEY-SK-[A-Z2-7-]+/.exec(text);
    if (!match) throw new UsageError(`${where} holds no PARLEY-SK-... key; make one with 'parley keys gen'`, usage);
    try {
      ownPublicKey = parseSecretKey(match[0]).publicKey;
    } catch (err) {
      throw new UsageError(`${where}: ${(err as Error).message}`, usage);
    }
    auth.key = match[0];
  }

  const trustFile = str('trust');
  const trustValue = envValue(sources, TRUST_ENV);
  if (trustFile !== undefined || trustValue !== undefined) {
    const trust =
      trustFile !== undefined
        ? checkedTrust(parseTrustFile(trustFile, usage), `--trust ${trustFile}`, usage)
        : checkedTrust(parseTrustList(trustValue!, usage), TRUST_ENV, usage);
    // A file is passed by path: the node re-reads it, so a key removed from it is revoked live.
    auth.trust = trustFile ?? trust;
    if (ownPublicKey !== undefined) {
      identity = Object.entries(trust).find(
        ([, entry]) => canonicalPublicKey(typeof entry === 'string' ? entry : entry.publicKey) === ownPublicKey,
      )?.[0];
    }
  }
  if (auth.key !== undefined && auth.trust === undefined) {
    throw new UsageError(
      '--key needs --trust FILE (or PARLEY_TRUST): the public keys of the nodes this one accepts (its own key, by name, gives its node id)',
      usage,
    );
  }

  const secretFile = str('secret-file');
  const secretValue = envValue(sources, SECRET_ENV);
  if (secretFile !== undefined) {
    auth.secret = checkedSecret(
      readSecretFile('--secret-file', secretFile, usage).trim(),
      `--secret-file ${secretFile}`,
      usage,
    );
  } else if (secretValue !== undefined) {
    auth.secret = checkedSecret(secretValue.trim(), SECRET_ENV, usage);
  }

  const tokensFile = str('tokens');
  if (tokensFile !== undefined) {
    readTokenOptions(tokensFile, usage);
    auth.tokens = tokensFile; // by path, re-read by the node: a signing key removed from it is revoked live
  }

  const token = str('token');
  if (token !== undefined) {
    const value = token.startsWith('@') ? readSecretFile('--token', token.slice(1), usage).trim() : token;
    if (value === '') throw new UsageError(`--token ${token} is empty`, usage);
    if (auth.trust === undefined && auth.secret === undefined) {
      throw new UsageError(
        "--token is only sent to a server this command has verified: add --trust FILE (the servers' public keys) or --secret-file FILE",
        usage,
      );
    }
    auth.token = value;
  }

  const tls = tlsFromFlags(str('tls-cert'), str('tls-key'), str('tls-ca'), flags.mtls === true, usage);
  if (flags.mtls === true) {
    auth.tls = true;
    identity ??= certificateName(str('tls-cert')!, usage);
  }
  const hasAuth = Object.keys(auth).length > 0;
  return {
    ...(hasAuth ? { auth } : {}),
    ...(tls ? { tls } : {}),
    ...(flags.insecure === true ? { insecure: true as const } : {}),
    ...(identity !== undefined ? { identity } : {}),
  };
}

/**
 * Secure by default, said in the CLI's words: a node listening where other machines can reach it
 * needs an authentication mode, or --insecure. The node enforces the same rule; this check runs
 * first so that the message names flags, not options.
 */
export function checkListenExposure(
  host: string,
  security: NodeSecurity,
  where: string,
  usage: string,
  isLoopback: (host: string) => boolean,
): void {
  if (isLoopback(host) || security.insecure || authenticatesPeers(security.auth) || security.tls?.mutual) return;
  throw new UsageError(
    `${where} is reachable from other machines, and no authentication is set: any process that connects would be a full member. ` +
      'Pass --secret-file FILE (every member holds the same secret), or --key FILE with --trust FILE, or ' +
      '--tls-cert/--tls-key/--tls-ca with --mtls; or --insecure to run open on purpose',
    usage,
  );
}

/** A node id given with --id must be the one its key or certificate proves. */
export function checkIdentity(id: string, security: NodeSecurity, usage: string): void {
  if (security.identity !== undefined && security.identity !== id) {
    const proof =
      security.auth?.key !== undefined
        ? `the key of --key is trusted as '${security.identity}' in --trust`
        : `the certificate of --tls-cert names '${security.identity}'`;
    throw new UsageError(
      `--id ${id} does not match this node's identity: ${proof}; use --id ${security.identity}`,
      usage,
    );
  }
}

function tlsFromFlags(
  cert: string | undefined,
  key: string | undefined,
  ca: string | undefined,
  mutual: boolean,
  usage: string,
): TlsOptions | undefined {
  if (cert === undefined && key === undefined && ca === undefined) {
    if (mutual) throw new UsageError('--mtls needs --tls-cert FILE, --tls-key FILE and --tls-ca FILE', usage);
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together (the certificate and its private key)', usage);
  }
  if (mutual && (cert === undefined || ca === undefined)) {
    throw new UsageError('--mtls needs --tls-cert FILE, --tls-key FILE and --tls-ca FILE', usage);
  }
  return {
    ...(cert !== undefined ? { cert: readFile('--tls-cert', cert, usage) } : {}),
    ...(key !== undefined ? { key: readFile('--tls-key', key, usage) } : {}),
    ...(ca !== undefined ? { ca: readFile('--tls-ca', ca, usage) } : {}),
    ...(mutual ? { mutual: true } : {}),
  };
}

/** The name a certificate proves (the node id a node presenting it must use). */
function certificateName(file: string, usage: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(file));
  } catch (err) {
    throw new UsageError(`--tls-cert ${file} is not a PEM certificate: ${(err as Error).message}`, usage);
  }
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  const name = tlsPrincipalName({
    commonName,
    subjectAltName: cert.subjectAltName,
    fingerprint256: cert.fingerprint256,
    authorized: true,
  });
  if (name === undefined) throw new UsageError(`--tls-cert ${file} names nobody (no SAN, no CN)`, usage);
  return name;
}

function parseTrustFile(file: string, usage: string): Record<string, unknown> {
  const text = readFile('--trust', file, usage);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--trust ${file} is not valid JSON: ${(err as Error).message}`, usage);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length === 0) {
    throw new UsageError(
      `--trust ${file} must hold a JSON object of trusted keys by name: {"n1": "PARLEY-PK-...", "ops": {"publicKey": "PARLEY-PK-...", "groups": ["admin"]}}`,
      usage,
    );
  }
  return parsed as Record<string, unknown>;
}

/** PARLEY_TRUST: `name=PARLEY-PK-…,name2=PARLEY-PK-…` (no groups). */
function parseTrustList(text: string, usage: string): Record<string, unknown> {
  const trust: Record<string, string> = {};
  for (const entry of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(entry);
    if (!m) throw new UsageError(`${TRUST_ENV}: expected name=PARLEY-PK-...,..., got '${entry.trim()}'`, usage);
    trust[m[1]!] = m[2]!;
  }
  return trust;
}

/** Every entry a readable public key (and its groups strings); `where` names the flag or variable. */
function checkedTrust(
  parsed: Record<string, unknown>,
  where: string,
  usage: string,
): Record<string, string | TrustedKey> {
  for (const [name, entry] of Object.entries(parsed)) {
    const publicKey = typeof entry === 'string' ? entry : (entry as { publicKey?: unknown } | null)?.publicKey;
    const groups = typeof entry === 'object' && entry !== null ? (entry as { groups?: unknown }).groups : undefined;
    if (typeof publicKey !== 'string') {
      throw new UsageError(
        `${where}: "${name}" must be "PARLEY-PK-..." or {"publicKey": "PARLEY-PK-...", "groups": [...]}`,
        usage,
      );
    }
    if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
      throw new UsageError(`${where}: the groups of "${name}" must be a list of strings`, usage);
    }
    try {
      canonicalPublicKey(publicKey);
    } catch (err) {
      throw new UsageError(`${where}: "${name}": ${(err as Error).message}`, usage);
    }
  }
  return parsed as Record<string, string | TrustedKey>;
}

/** `--tokens FILE`: how this node verifies clients' tokens, checked now (a bad key or algorithm names the file). */
function readTokenOptions(file: string, usage: string): TokenOptions {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFile('--tokens', file, usage));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--tokens ${file} is not valid JSON: ${(err as Error).message}`, usage);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--tokens ${file} must hold {"issuer": ..., "audience": ..., "keys": [...]}`, usage);
  }
  try {
    createTokenVerifier(parsed as TokenOptions);
  } catch (err) {
    throw new UsageError(`--tokens ${file}: ${(err as Error).message}`, usage);
  }
  return parsed as TokenOptions;
}

function envValue(sources: SettingSources, name: string): string | undefined {
  const v = sources.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function checkedSecret(secret: string, where: string, usage: string): string {
  if (secret.length < 32) {
    throw new UsageError(
      `${where} holds ${secret.length} characters; a cluster secret needs at least 32. Make one with: (umask 077; openssl rand -base64 32 > secret)`,
      usage,
    );
  }
  return secret;
}

/** Reads a file holding a secret, refusing it when other users may read it (like ssh). */
export function readSecretFile(flag: string, file: string, usage: string): string {
  const text = readFile(flag, file, usage);
  const exposed = permissionProblem(file);
  if (exposed !== undefined) {
    throw new UsageError(
      `${flag} ${file} ${exposed}; a secret must be readable by its owner only: run 'chmod 600 ${file}'`,
      usage,
    );
  }
  return text;
}

function readFile(flag: string, file: string, usage: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UsageError(`${flag} ${file}: ${why}`, usage);
  }
}
