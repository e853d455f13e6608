/**
 * TLS settings for the TCP transport. PEM strings or Buffers, as Node's tls module takes them.
 * - `cert` + `key`: this node's certificate (required for a listening TLS node and for mTLS; a node
 *   that only dials out to servers that do not ask for client certificates may omit them).
 * - `ca`: the CA(s) that sign peers' certificates; peers are verified against it.
 * - `mutual`: require and verify a client certificate on incoming connections (mTLS).
 */
export interface TlsOptions {
  /** Required to listen, and to dial a server that demands client certificates (mTLS). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  readonly mutual?: boolean;
  /** Check that the server certificate names the dialed host (default true). */
  readonly checkServerIdentity?: boolean;
}
