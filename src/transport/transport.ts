import type { Connection } from './connection.js';

/**
 * Moves bytes between this process and peers by address. Implementations: TcpTransport (TCP,
 * optionally TLS/mTLS) and MemoryTransport (tests). Node ids are not known at this level: the
 * Mesh runs the HELLO handshake over these connections.
 */
export interface Transport {
  /** Starts listening (when configured to) and returns the address peers dial, or null. */
  listen(onAccept: (connection: Connection) => void): Promise<string | null>;
  /** Opens a connection; rejects with ParleyError UNAVAILABLE when the peer cannot be reached. */
  dial(address: string): Promise<Connection>;
  /** Stops listening. Open connections are closed by their owners. */
  close(): Promise<void>;
}

/** Per-connection limits (the name is historical: they bound what is received too). */
export interface OutboundLimits {
  /** Maximum frame size accepted from peers (and sent to them). */
  readonly maxFrameSize: number;
  /**
   * Maximum size of a connection's first frame, which must be the peer's HELLO (default
   * DEFAULT_MAX_FIRST_FRAME_SIZE, 256 KiB): what a peer that has not completed the handshake can
   * make this side buffer.
   */
  readonly maxFirstFrameSize?: number;
  /** Maximum bytes queued towards one peer before send() fails with RESOURCE_EXHAUSTED. */
  readonly maxOutboundBytes: number;
}

export const DEFAULT_MAX_OUTBOUND_BYTES = 64 * 1024 * 1024;
