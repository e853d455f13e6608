import {
  type Frame,
  FrameFlag,
  HEADER_AFTER_LENGTH,
  HEADER_SIZE,
  PacketType,
  PROTOCOL_VERSION,
  packetName,
} from '../../wire/frame.js';
import { encodeGoodbye } from '../../wire/packets.js';
import { ParleyError } from '../../wire/parley-error.js';
import { type Connection, type ConnectionHandlers, outboundQueueFull, type PeerIdentity } from '../connection.js';
import { FrameOpener, FrameSealer, type Ordering, SEAL_OVERHEAD } from './frame-sealer.js';
import type { KeyScheduleOptions } from './key-schedule.js';
import { isSealError, sealError } from './seal-error.js';
import type { SessionKeys } from './session-keys.js';

export interface SealedConnectionOptions {
  /**
   * The inner connection's limits. With them, a frame too large once sealed, or one the outbound
   * queue cannot take, is refused before a counter is spent; without them such a refusal by the
   * inner connection leaves a gap in the counters, and the connection is closed.
   */
  readonly maxFrameSize?: number;
  readonly maxOutboundBytes?: number;
  /** 'strict' (default): the inner connection is ordered, as every Connection is. */
  readonly ordering?: Ordering;
  /** Key epoch sizes (a test hook; both sides must agree). */
  readonly keySchedule?: KeyScheduleOptions;
}

const noHandlers: ConnectionHandlers = { onFrame() {}, onClose() {} };

/**
 * A Connection decorator that seals frame bodies once the handshake has agreed on keys.
 *
 * Frames pass in the clear until `sealOutbound` (outgoing) and `openInbound` (incoming) are
 * called, each once; the handshake calls them at the point of the exchange both sides agree on,
 * and frames after that point — in the same received chunk too — are sealed or must open.
 *
 * Sealed frame: the header is unchanged (version, type, flags, stream) and is the AAD, so a
 * frame moved to another stream, retyped or re-flagged fails to open; the body is
 * `counter || ciphertext || tag` (SEAL_OVERHEAD = 24 bytes more than the plaintext).
 *
 * Invariants:
 * - after openInbound, no frame reaches the handlers unless it opened; the first that does not
 *   (tampered, truncated, replayed, out of order, never sealed) closes the connection with a
 *   ParleyError (details.reason says which) — it never throws into the inner connection;
 * - after sealOutbound, every counter spent is on a frame handed to the inner connection, or the
 *   connection is closed (a gap would read as an attack at the peer);
 * - after onClose, nothing is delivered and send() throws UNAVAILABLE (the Connection contract).
 */
export class SealedConnection implements Connection {
  private handlers: ConnectionHandlers = noHandlers;
  private sealer: FrameSealer | undefined;
  private opener: FrameOpener | undefined;
  /** Set when this layer closed the connection (a frame failed to open, a counter was lost). */
  private failed = false;
  /** version, type, flags, stream: the AAD of the frame being sealed (reused; setAAD copies it). */
  private readonly sendAad = new Uint8Array(HEADER_AFTER_LENGTH);
  private readonly receiveAad = new Uint8Array(HEADER_AFTER_LENGTH);

  constructor(
    private readonly inner: Connection,
    private readonly options: SealedConnectionOptions = {},
  ) {
    inner.setHandlers({ onFrame: (frame) => this.receive(frame), onClose: (error) => this.finish(error) });
  }

  get id(): number {
    return this.inner.id;
  }
  get outbound(): boolean {
    return this.inner.outbound;
  }
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get peerIdentity(): PeerIdentity | undefined {
    return this.inner.peerIdentity;
  }
  get pendingBytes(): number {
    return this.inner.pendingBytes;
  }
  get closed(): boolean {
    return this.failed || this.inner.closed;
  }
  /** True once frames sent are sealed. */
  get sealing(): boolean {
    return this.sealer !== undefined;
  }
  /** True once frames received must open. */
  get opening(): boolean {
    return this.opener !== undefined;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  /** Seals every frame sent from now on with `keys.send`. Once per connection. */
  sealOutbound(keys: SessionKeys): void {
    if (this.sealer) throw new ParleyError('FAILED_PRECONDITION', 'outbound frames are already sealed');
    this.sealer = new FrameSealer(keys.send, { algorithm: keys.algorithm, ...this.options.keySchedule });
  }

  /** Requires every frame received from now on to open with `keys.receive`. Once per connection. */
  openInbound(keys: SessionKeys): void {
    if (this.opener) throw new ParleyError('FAILED_PRECONDITION', 'inbound frames are already opened');
    this.opener = new FrameOpener(keys.receive, {
      algorithm: keys.algorithm,
      ordering: this.options.ordering ?? 'strict',
      ...this.options.keySchedule,
    });
  }

  send(type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    const sealer = this.sealer;
    if (!sealer) {
      if (this.failed) throw this.unavailable();
      this.inner.send(type, flags, stream, body);
      return;
    }
    if (this.closed) throw this.unavailable();
    const sealedLength = body.length + SEAL_OVERHEAD;
    const { maxFrameSize, maxOutboundBytes } = this.options;
    if (maxFrameSize !== undefined && HEADER_AFTER_LENGTH + sealedLength > maxFrameSize) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `message of ${body.length} bytes (${sealedLength} sealed) exceeds the maximum frame size of ${maxFrameSize} bytes; send less data per message or raise maxFrameSize on both nodes`,
      );
    }
    const pending = this.inner.pendingBytes;
    if (maxOutboundBytes !== undefined && pending + HEADER_SIZE + sealedLength > maxOutboundBytes) {
      throw outboundQueueFull(this.remoteAddress, pending, maxOutboundBytes);
    }
    const aad = this.sendAad;
    writeAad(aad, type, flags, stream);
    const sealed = sealer.seal(aad, body);
    try {
      this.inner.send(type, flags, stream, sealed);
    } catch (err) {
      // The counter is spent on a frame the peer will never see: the stream cannot continue.
      this.fail(
        new ParleyError(
          'INTERNAL',
          `a sealed ${packetName(type)} frame was refused by the connection to ${this.remoteAddress} after its counter was spent (${(err as Error).message}); closing — pass maxFrameSize and maxOutboundBytes to SealedConnection so such frames are refused before sealing`,
          { cause: err },
        ),
        false,
      );
      throw err;
    }
  }

  flush(): void {
    this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }

  destroy(error?: Error): void {
    this.inner.destroy(error);
  }

  private receive(frame: Frame): void {
    if (this.failed) return;
    const opener = this.opener;
    if (!opener) {
      this.handlers.onFrame(frame);
      return;
    }
    const aad = this.receiveAad;
    writeAad(aad, frame.type, frame.flags, frame.stream);
    let body: Uint8Array;
    try {
      body = opener.open(aad, frame.body);
    } catch (err) {
      const reason = isSealError(err) ? (err.details as { reason: string }).reason : 'tampered';
      const failure = isSealError(err)
        ? sealError(
            reason as Parameters<typeof sealError>[0],
            `a ${packetName(frame.type)} frame on stream ${frame.stream} from ${this.remoteAddress} failed to open (${reason}): ${err.message}; closing the connection`,
            err,
          )
        : sealError('tampered', `a frame from ${this.remoteAddress} failed to open: ${String(err)}`, err);
      this.fail(failure, true);
      return;
    }
    this.handlers.onFrame({ version: frame.version, type: frame.type, flags: frame.flags, stream: frame.stream, body });
  }

  /**
   * Closes because of `error`: the handlers hear it at once, and nothing more is delivered. The
   * peer is told why in a sealed GOODBYE when outbound frames are sealed and a frame can still go.
   */
  private fail(error: ParleyError, tellPeer: boolean): void {
    if (this.failed || this.inner.closed) return;
    this.failed = true;
    if (tellPeer && this.sealer) {
      try {
        const aad = this.sendAad;
        writeAad(aad, PacketType.GOODBYE, FrameFlag.JSON, 0);
        const body = encodeGoodbye({ code: error.code, reason: error.message });
        this.inner.send(PacketType.GOODBYE, FrameFlag.JSON, 0, this.sealer.seal(aad, body));
      } catch {
        // the queue is full or the connection is gone: the peer sees the close
      }
    }
    this.inner.close();
    this.dispose();
    const handlers = this.handlers;
    this.handlers = noHandlers;
    handlers.onClose(error);
  }

  private finish(error: Error | undefined): void {
    this.dispose();
    const handlers = this.handlers;
    this.handlers = noHandlers;
    handlers.onClose(error);
  }

  private dispose(): void {
    this.sealer?.dispose();
    this.opener?.dispose();
  }

  private unavailable(): ParleyError {
    return new ParleyError('UNAVAILABLE', `connection to ${this.remoteAddress} is closed`);
  }
}

function writeAad(target: Uint8Array, type: number, flags: number, stream: number): void {
  target[0] = PROTOCOL_VERSION;
  target[1] = type;
  target[2] = flags;
  target[3] = stream >>> 24;
  target[4] = (stream >>> 16) & 0xff;
  target[5] = (stream >>> 8) & 0xff;
  target[6] = stream & 0xff;
}
