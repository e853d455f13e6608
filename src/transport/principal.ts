import type { PeerIdentity } from './connection.js';

/**
 * Who is on the other end of a connection, once the handshake has authenticated it: the one
 * answer every authentication mode (mutual TLS, node keys, a cluster secret, bearer tokens, a
 * user's `authenticate` hook) gives, and the one thing authorization decides on.
 *
 * Invariant: `authenticated` is true only when `name` was proven (a certificate chain, a
 * signature over this connection's nonce, a verified token, the user's hook); a peer on a mesh
 * with no authentication mode gets `authenticated: false` and `via: 'none'`, with its claimed
 * node id as `name`, so a policy can never mistake a claim for a proof.
 */
export interface Principal {
  /** The authenticated name: a node id, a certificate's SPIFFE id / CN, a token's subject. */
  readonly name: string;
  /** Groups (roles) the principal belongs to, from the token, the key list or the hook. */
  readonly groups: readonly string[];
  /** How the name was established. */
  readonly via: PrincipalSource;
  readonly authenticated: boolean;
  /** Extra verified claims (a token's claims, a certificate's fields), for handlers' own checks. */
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
}

export type PrincipalSource = 'tls' | 'key' | 'secret' | 'token' | 'hook' | 'local' | 'none';

/** The principal of a peer no authentication mode vouches for: its claim, marked as such. */
export function unauthenticatedPrincipal(claimedId: string): Principal {
  return { name: claimedId, groups: [], via: 'none', authenticated: false };
}

/**
 * A peer on a mesh without `auth`: named by its CA-verified TLS certificate's CN when it has one,
 * else by its claimed id, marked unauthenticated.
 */
export function unprovenPrincipal(claimedId: string, tls: PeerIdentity | undefined): Principal {
  if (tls?.authorized && tls.commonName) return { name: tls.commonName, groups: [], via: 'tls', authenticated: true };
  return unauthenticatedPrincipal(claimedId);
}

/** This node itself, for calls and events it makes to its own services. */
export function localPrincipal(nodeId: string): Principal {
  return { name: nodeId, groups: [], via: 'local', authenticated: true };
}
