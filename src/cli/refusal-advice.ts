import type { ConnectionRefusal, RefusalReason } from '../transport/connection-refusal.js';
import { ParleyError } from '../wire/parley-error.js';
import type { NodeSecurity } from './security-flags.js';

/**
 * What a CLI user should fix when a handshake was refused, in the CLI's words (flags, files),
 * chosen by the refusal's typed reason (transport/connection-refusal.ts), never by its text.
 *
 * Invariant: every refusal gets a message naming the flags to check; the code is the refusal's.
 */

/** The error a CLI command fails with when a server refused it, or it refused a server. */
export function refusalFailure(refusal: ConnectionRefusal, security: NodeSecurity): ParleyError {
  const head =
    refusal.by === 'peer'
      ? `the server refused this client: ${refusal.message}`
      : `this command refused the server at ${refusal.address}: ${refusal.message}`;
  return new ParleyError(refusal.code, `${head}. ${advice(refusal, security)}`, {
    details: { reason: refusal.reason, refusedBy: refusal.by, address: refusal.address },
  });
}

const CHECK_ALL =
  "Check the credentials this command passes (--secret-file, --key/--trust, --token, --tls-*) against the cluster's";

function advice(refusal: ConnectionRefusal, security: NodeSecurity): string {
  if (refusal.by === 'local') return LOCAL[refusal.reason] ?? CHECK_ALL;
  if (refusal.reason === 'no-credentials' && security.auth === undefined && security.tls === undefined) {
    return "This command sent no credentials: pass the cluster's --secret-file FILE, or --key FILE with --trust FILE (or set PARLEY_SECRET_FILE, PARLEY_KEY_FILE, PARLEY_TRUST_FILE)";
  }
  return PEER[refusal.reason] ?? CHECK_ALL;
}

/** The server refused this command's credentials. */
const PEER: Partial<Record<RefusalReason, string>> = {
  'no-credentials':
    "The server wants credentials this command did not present: pass the cluster's --secret-file, --key with --trust, or --token",
  'untrusted-key':
    "The server does not trust this command's key (--key): add its public key ('parley keys pub - < KEYFILE') to the server's trust file, or use a key it trusts",
  'bad-proof':
    "The key of --key is not the one the server trusts under that name: check --key against the server's trust file",
  'wrong-secret': "--secret-file (or PARLEY_SECRET) holds another secret than the cluster's: use the cluster's secret",
  'unsupported-method':
    "The server does not accept this way of authenticating: use the cluster's mode (--secret-file, --key/--trust, --token or --mtls)",
  'no-certificate': 'The server wants a client certificate: pass --tls-cert FILE --tls-key FILE --tls-ca FILE --mtls',
  'token-expired': 'The token of --token has expired: get a new one',
  'bad-token':
    "The server does not accept the token of --token: check its issuer, audience and signing key against the server's --tokens file",
  'id-mismatch':
    "The node id this command uses is not the one its credentials prove: the name of its key in --trust (or its certificate's name) must be the name the server trusts it as",
  'encryption-mismatch': 'This command and the server disagree on sealing frames: both must use TLS, or neither',
  'duplicate-id': 'Another running node uses the node id of this command: give it its own key or certificate',
  revoked: 'The server no longer trusts these credentials (removed from its trust list, or expired): get new ones',
};

/** This command refused the server: the server did not prove what this command's flags expect. */
const LOCAL: Partial<Record<RefusalReason, string>> = {
  'untrusted-key':
    "The server presents a key that --trust does not list: add the server's public key to the --trust file (check it is the server you mean)",
  'bad-proof': 'The server did not prove it holds the key --trust lists for it: check that --trust matches the cluster',
  'wrong-secret': "The server does not hold the secret of --secret-file: use the cluster's secret",
  'no-credentials':
    'The server proves no identity, and this command requires one: drop the credential flags for an open cluster, or check --seed',
  'unsupported-method':
    "The server authenticates in a way this command does not accept: use the cluster's mode (--secret-file, --key/--trust or --mtls)",
  'encryption-mismatch': 'This command and the server disagree on sealing frames: both must use TLS, or neither',
};
