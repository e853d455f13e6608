import type { Frame, PacketType } from '../wire/frame.js';
import { ParleyError } from '../wire/parley-error.js';

/** Who the peer is according to its TLS certificate (mTLS), when there is one. */
export interface PeerIdentity {
  /** Subject common name. */
  readonly commonName: string | undefined;
  /** Subject alternative names as Node prints them, e.g. "DNS:a, IP Address:127.0.0.1". */
  readonly subjectAltName: string | undefined;
  readonly fingerprint256: string;
  /** True when the certificate chains to a trusted CA. */
  readonly authorized: boolean;
}

export interface ConnectionHandlers {
  /** Called for each whole frame, in arrival order. The body is only valid during the call. */
  onFrame(frame: Frame): void;
  /** Called once when the connection is gone; `error` says why when it was not a clean close. */
  onClose(error: Error | undefined): void;
}

/**
 * A framed, ordered, reliable byte stream to one peer. Writes are batched: frames queued in one
 * tick go out in one write (or at once past a size threshold).
 *
 * Invariant: after onClose has been called no frame is delivered and send() throws UNAVAILABLE.
 */
export interface Connection {
  readonly id: number;
  /** True when this side dialed. */
  readonly outbound: boolean;
  readonly remoteAddress: string;
  readonly peerIdentity: PeerIdentity | undefined;
  /** Bytes accepted by send() and not yet handed to the OS. */
  readonly pendingBytes: number;
  readonly closed: boolean;
  setHandlers(handlers: ConnectionHandlers): void;
  /**
   * Queues a frame. Throws ParleyError RESOURCE_EXHAUSTED when the outbound queue is full and
   * UNAVAILABLE when the connection is closed; in both cases nothing was queued.
   */
  send(type: PacketType, flags: number, stream: number, body: Uint8Array): void;
  /**
   * Optional: queues one frame already encoded whole (header included) and gives its bytes to the
   * connection, which may hand them to the OS as they are, without a copy (a sealed batch is
   * encrypted straight into such a buffer). The caller never touches them again. Same order and
   * same throws as send().
   */
  sendEncoded?(frame: Uint8Array): void;
  /** Writes queued frames now. */
  flush(): void;
  /** Flushes what is queued, then closes. */
  close(): void;
  /** Closes at once, dropping what is queued. */
  destroy(error?: Error): void;
}

/** The error send() throws when the outbound queue is full; `isOutboundQueueFull` recognizes it. */
export function outboundQueueFull(remoteAddress: string, queuedBytes: number, limit: number): ParleyError {
  return new ParleyError(
    'RESOURCE_EXHAUSTED',
    `outbound queue to ${remoteAddress} is full (${queuedBytes} bytes queued, limit ${limit}); the peer is slow or the network is congested — retry later`,
    { details: { outboundQueueFull: true } },
  );
}

export function isOutboundQueueFull(err: unknown): boolean {
  return (
    err instanceof ParleyError &&
    err.code === 'RESOURCE_EXHAUSTED' &&
    (err.details as { outboundQueueFull?: unknown } | undefined)?.outboundQueueFull === true
  );
}
