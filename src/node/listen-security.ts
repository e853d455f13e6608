import type { Logger } from '../transport/logger.js';
import { type AuthOptions, authenticatesPeers } from '../transport/security/auth-options.js';
import type { TlsOptions } from '../transport/tls-options.js';
import { ParleyError } from '../wire/parley-error.js';

/**
 * Secure by default: a node that listens where other machines can reach it must authenticate
 * them. Decided once, when the node starts.
 *
 * Invariant: a node listening (TCP, not a custom transport) on a host that is not loopback, with
 * no authentication mode (auth.trust, auth.secret, auth.tls, auth.tokens, auth.authenticate) and
 * no mutual TLS, does not start — FAILED_PRECONDITION naming the options — unless `insecure` is
 * set, and then it says so in exactly one warning. Loopback and non-listening nodes are unchanged.
 */
export interface ListenSecurity {
  readonly nodeId: string;
  readonly host: string;
  /** null: the node does not listen. */
  readonly port: number | null;
  /** A custom transport (MemoryTransport, a test's): its reach is its own business. */
  readonly customTransport: boolean;
  readonly auth: AuthOptions | undefined;
  readonly tls: TlsOptions | undefined;
  readonly insecure: boolean;
}

export function checkListenSecurity(s: ListenSecurity, logger: Logger): void {
  if (s.customTransport || s.port === null || isLoopbackHost(s.host)) return;
  if (authenticatesPeers(s.auth) || s.tls?.mutual === true) return;
  const exposure = `node '${s.nodeId}' listens on ${s.host}, where other machines can reach it, with no authentication: any process that connects would be a full member (call every action, publish every event, join the cluster)`;
  if (!s.insecure) {
    throw new ParleyError(
      'FAILED_PRECONDITION',
      `${exposure}. Set auth (auth.secret, or auth.key with auth.trust; auth.tokens for clients) or tls with mutual: true — or set insecure: true to run open on purpose`,
    );
  }
  logger.warn(`INSECURE: ${exposure}; insecure: true is set, so it starts anyway`);
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
