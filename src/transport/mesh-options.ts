import type { BackoffOptions } from '../base/backoff.js';
import type { Timer } from '../base/clock.js';
import type { Random } from '../base/random.js';
import type { Frame } from '../wire/frame.js';
import type { HelloBody } from '../wire/packets.js';
import type { Logger } from './logger.js';
import type { Principal } from './principal.js';
import type { ResolvedAuth } from './security/auth-options.js';
import type { Revocation } from './security/revocation.js';
import type { SealedConnectionOptions } from './security/sealed-connection.js';
import type { Transport } from './transport.js';

/**
 * The mesh's contract with the node above it (mesh.ts): what it is given (MeshOptions) and what
 * it reports (MeshEvents).
 */

/** Largest PING body answered (bytes); a larger one is a protocol violation. Parley sends empty PINGs. */
export const MAX_PING_BODY = 64;

export interface MeshOptions {
  readonly localId: string;
  readonly transport: Transport;
  /** The HELLO this node sends; called for every handshake so it is always current. */
  readonly hello: () => HelloBody;
  readonly logger: Logger;
  /** Send a PING when nothing was received for this long (default 1000 ms). */
  readonly keepaliveIntervalMs?: number;
  /** Declare a connection dead when nothing was received for this long (default 5000 ms). */
  readonly idleTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly reconnect?: BackoffOptions;
  /** Time and timers (default systemTimer: monotonic, never keeps the process alive). */
  readonly timer?: Timer;
  /** Jitter of the redials (default Math.random). */
  readonly random?: Random;
  /** Authenticate every connection (security/connection-auth.ts); undefined: believe HELLOs, as a closed network may. */
  readonly auth?: ResolvedAuth | undefined;
  /** The limits a SealedConnection checks before it spends a counter (when `auth.seal`). */
  readonly sealing?: SealedConnectionOptions | undefined;
  /** An authenticated connection was closed because its identity no longer holds (security/revocation.ts). */
  readonly onRevoked?: (peerId: string, principal: Principal, revocation: Revocation) => void;
}

export interface MeshEvents {
  /** A peer is reachable (first connection, or back after a loss). */
  onPeerUp(peerId: string, hello: HelloBody): void;
  /**
   * The peer's last connection closed. `graceful` when it had said GOODBYE, or when this mesh is
   * stopping and closed it itself: neither is a loss to redial or to log as one.
   */
  onPeerDown(peerId: string, graceful: boolean, reason: string): void;
  /** Every frame other than HELLO/PING/PONG, from a handshaken peer. */
  onFrame(peerId: string, frame: Frame): void;
}
