import { jsonCodec } from '../../wire/codec.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  type Frame,
  FrameFlag,
  HEADER_AFTER_LENGTH,
  HEADER_SIZE,
  isPacketType,
  PacketType,
  PROTOCOL_VERSION,
  packetName,
  writeHeader,
} from '../../wire/frame.js';
import { FrameBatch } from '../../wire/frame-batch.js';
import { encodeGoodbye, parseGoodbye } from '../../wire/packets.js';
import { ParleyError } from '../../wire/parley-error.js';
import { type Connection, type ConnectionHandlers, outboundQueueFull, type PeerIdentity } from '../connection.js';
import { EARLY_WRITE_FRAMES } from '../socket-connection.js';
import { FrameOpener, FrameSealer, type Ordering, SEAL_OVERHEAD } from './frame-sealer.js';
import type { KeyScheduleOptions } from './key-schedule.js';
import { isSealError, type SealErrorReason, sealError } from './seal-error.js';
import type { SessionKeys } from './session-keys.js';

export interface SealedConnectionOptions {
  /**
   * The inner connection's limits. With them, a frame too large once sealed, or one the outbound
   * queue cannot take, is refused by send() before anything is sealed; without them such a
   * refusal by the inner connection comes after a counter is spent, and the connection is closed.
   */
  readonly maxFrameSize?: number;
  readonly maxOutboundBytes?: number;
  /** 'strict' (default): the inner connection is ordered, as every Connection is. */
  readonly ordering?: Ordering;
  /** Key epoch sizes (a test hook; both sides must agree). */
  readonly keySchedule?: KeyScheduleOptions;
}

/** Bytes a SEALED frame adds around the frames it carries: its own header and the counter and tag. */
export const SEALED_FRAME_OVERHEAD = HEADER_SIZE + SEAL_OVERHEAD;

/** Frames queued past this many bytes are sealed at once instead of waiting for the flush. */
const SEAL_THRESHOLD = 64 * 1024;

const noHandlers: ConnectionHandlers = { onFrame() {}, onClose() {} };

/** The seal microtask is a reaction on this promise (queueMicrotask makes an AsyncResource per call). */
const RESOLVED = Promise.resolve();

/**
 * A Connection decorator that encrypts and authenticates every frame once the handshake has
 * agreed on keys.
 *
 * Frames pass in the clear until `sealOutbound` (outgoing) and `openInbound` (incoming) are
 * called, each once; the handshake calls them at the point of the exchange both sides agree on,
 * and frames after that point — in the same received chunk too — are sealed or must open.
 *
 * Sealed traffic: the frames sent in one tick (the same batching as the connection's writes) are
 * encoded as usual, one after the other, and sealed together into one SEALED frame (the first
 * EARLY_WRITE_FRAMES of a busy tick are sealed and written at once, as a plain connection writes
 * them, so the peer starts on them while this side produces the rest):
 *
 *   SEALED frame = header (type SEALED, flags 0, stream 0) || counter || AEAD(frames) || tag
 *
 * The SEALED header is the AAD; the inner frames' headers (type, flags, stream) are inside the
 * ciphertext, so they are hidden as well as authenticated, and no frame can be moved, retyped or
 * dropped without the tag failing. One AEAD operation per batch instead of per frame: under load
 * the crypto cost per message shrinks with the batch (bench/RESULTS.md, "Message protection").
 *
 * Memory, per batch: the frames queue in a FrameBatch whose buffer is kept; the cipher reads them
 * in place and its output lands in one buffer sized once for the whole SEALED frame (header,
 * counter, ciphertext, tag), which the inner connection takes as it is (`sendEncoded`: the socket
 * writes it without another copy). A received batch is decrypted into one buffer and its frames
 * are handed out as views of it. Node's cipher makes its own output buffer on every update (it has
 * no update-into), so that output is copied once into the frame.
 *
 * Invariants:
 * - after openInbound, no frame reaches the handlers unless it came out of a SEALED frame that
 *   opened, and a batch is checked whole before its first frame is delivered; the first SEALED
 *   frame that does not open, or a frame in the clear, closes the connection with a ParleyError
 *   (details.reason says which) — nothing is thrown into the inner connection;
 * - after sealOutbound, frames are delivered in send order, each sealed exactly once, and every
 *   counter spent is on a frame handed to the inner connection, or the connection is closed (a gap
 *   would read as an attack at the peer);
 * - a SEALED frame never exceeds maxFrameSize, so a frame's body may be SEALED_FRAME_OVERHEAD
 *   (35) bytes less than on a connection in the clear;
 * - after onClose, nothing is delivered and send() throws UNAVAILABLE (the Connection contract).
 */
export class SealedConnection implements Connection {
  private handlers: ConnectionHandlers = noHandlers;
  private sealer: FrameSealer | undefined;
  private opener: FrameOpener | undefined;
  /** Frames sent since the last seal, in the clear, waiting to be sealed together. */
  private readonly batch = new FrameBatch(4 * 1024);
  private sealScheduled = false;
  /** Frames sent since the last scheduled seal (the early write, see send). */
  private framesThisTick = 0;
  /** Set when this layer closed the connection (a frame failed to open, a counter was lost). */
  private failed = false;
  /** Largest run of encoded frames one SEALED frame can carry. */
  private readonly maxBatchBytes: number;
  /** The AAD of every SEALED frame: version, type SEALED, flags 0, stream 0. */
  private static readonly AAD = Uint8Array.from([PROTOCOL_VERSION, PacketType.SEALED, 0, 0, 0, 0, 0]);
  private readonly receiveAad = new Uint8Array(HEADER_AFTER_LENGTH);

  constructor(
    private readonly inner: Connection,
    private readonly options: SealedConnectionOptions = {},
  ) {
    this.maxBatchBytes = (options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE) - HEADER_AFTER_LENGTH - SEAL_OVERHEAD;
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
    return this.inner.pendingBytes + this.batch.byteLength;
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
    if (!this.sealer) {
      if (this.failed) throw this.unavailable();
      this.inner.send(type, flags, stream, body);
      return;
    }
    if (this.closed) throw this.unavailable();
    const size = HEADER_SIZE + body.length;
    if (size > this.maxBatchBytes) {
      const limit = this.options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `message of ${body.length} bytes exceeds the maximum frame size of ${limit} bytes once sealed (${SEALED_FRAME_OVERHEAD} bytes of sealing); send less data per message or raise maxFrameSize on both nodes`,
      );
    }
    const { maxOutboundBytes } = this.options;
    const pending = this.pendingBytes;
    if (maxOutboundBytes !== undefined && pending + size + SEALED_FRAME_OVERHEAD > maxOutboundBytes) {
      throw outboundQueueFull(this.remoteAddress, pending, maxOutboundBytes);
    }
    if (this.batch.byteLength + size > this.maxBatchBytes) this.sealBatch();
    this.batch.append(type, flags, stream, body);
    this.framesThisTick++;
    if (this.framesThisTick === EARLY_WRITE_FRAMES) {
      // As a plain connection does (socket-connection.ts): the first frames of a busy tick leave
      // at once, so the peer works on them while this side produces the rest.
      this.sealBatch();
      this.inner.flush();
    } else if (this.batch.byteLength >= SEAL_THRESHOLD) this.sealBatch();
    if (!this.sealScheduled) {
      this.sealScheduled = true;
      RESOLVED.then(this.scheduledSeal);
    }
  }

  private readonly scheduledSeal = (): void => {
    this.sealScheduled = false;
    this.framesThisTick = 0;
    if (!this.closed) this.sealBatch();
  };

  flush(): void {
    if (!this.closed) this.sealBatch();
    this.inner.flush();
  }

  close(): void {
    if (!this.closed) this.sealBatch();
    this.inner.close();
  }

  destroy(error?: Error): void {
    this.inner.destroy(error);
  }

  /** Seals the queued frames into one SEALED frame and hands it to the inner connection. */
  private sealBatch(): void {
    if (this.batch.byteLength === 0 || !this.sealer) return;
    let sealed: Uint8Array;
    try {
      sealed = this.sealQueued(this.sealer);
    } catch (err) {
      // The session's counters are used up (2^53 SEALED frames): only a new handshake can go on.
      this.fail(ParleyError.from(err), false);
      return;
    }
    try {
      this.handToInner(sealed);
    } catch (err) {
      // The counter is spent on a frame the peer will never see: the stream cannot continue.
      this.fail(
        new ParleyError(
          'UNAVAILABLE',
          `sealed frames were refused by the connection to ${this.remoteAddress} after their counter was spent (${(err as Error).message}); closing — give SealedConnection the connection's maxFrameSize and maxOutboundBytes so such frames are refused by send()`,
          { cause: err },
        ),
        false,
      );
    }
  }

  /**
   * The queued frames sealed into one whole SEALED frame, header included, in a buffer sized once:
   * the cipher reads the batch in place, writes into that buffer, and the batch keeps its memory.
   */
  private sealQueued(sealer: FrameSealer): Uint8Array {
    const plaintext = this.batch.view();
    const frame = Buffer.allocUnsafe(SEALED_FRAME_OVERHEAD + plaintext.length);
    writeHeader(frame, 0, PacketType.SEALED, 0, 0, SEAL_OVERHEAD + plaintext.length);
    try {
      sealer.sealInto(SealedConnection.AAD, plaintext, frame, HEADER_SIZE);
    } finally {
      this.batch.clear();
    }
    return frame;
  }

  /** Without a copy when the inner connection takes encoded frames (SocketConnection does). */
  private handToInner(sealedFrame: Uint8Array): void {
    if (this.inner.sendEncoded) this.inner.sendEncoded(sealedFrame);
    else this.inner.send(PacketType.SEALED, 0, 0, sealedFrame.subarray(HEADER_SIZE));
  }

  private receive(frame: Frame): void {
    if (this.failed) return;
    const opener = this.opener;
    if (!opener) {
      this.handlers.onFrame(frame);
      return;
    }
    if (frame.type !== PacketType.SEALED) {
      this.refuse('unsealed', `a ${packetName(frame.type)} frame arrived in the clear${clearGoodbyeReason(frame)}`);
      return;
    }
    const aad = this.receiveAad;
    aad[0] = frame.version;
    aad[1] = frame.type;
    aad[2] = frame.flags;
    writeU32(aad, 3, frame.stream);
    let plaintext: Uint8Array;
    try {
      plaintext = opener.open(aad, frame.body);
    } catch (err) {
      if (isSealError(err)) {
        this.refuse((err.details as { reason: SealErrorReason }).reason, err.message, err);
      } else {
        this.refuse('tampered', String(err), err);
      }
      return;
    }
    const problem = checkFrames(plaintext);
    if (problem) {
      this.refuse('malformed', problem);
      return;
    }
    let offset = 0;
    while (offset < plaintext.length && !this.closed) {
      const length = readU32(plaintext, offset);
      this.handlers.onFrame({
        version: plaintext[offset + 4]!,
        type: plaintext[offset + 5] as PacketType,
        flags: plaintext[offset + 6]!,
        stream: readU32(plaintext, offset + 7),
        body: plaintext.subarray(offset + HEADER_SIZE, offset + 4 + length),
      });
      offset += 4 + length;
    }
  }

  private refuse(reason: SealErrorReason, what: string, cause?: unknown): void {
    this.fail(
      sealError(
        reason,
        `a frame from ${this.remoteAddress} failed to open (${reason}): ${what}; closing the connection — the peer uses other keys, or the connection was tampered with`,
        cause,
      ),
      true,
    );
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
        this.batch.append(
          PacketType.GOODBYE,
          FrameFlag.JSON,
          0,
          encodeGoodbye({ code: error.code, reason: error.message }),
        );
        this.handToInner(this.sealQueued(this.sealer));
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

/**
 * Why `bytes` is not a run of whole, well-formed frames (undefined when it is): each with a
 * length of at least the header, inside the run, this protocol's version and a known packet type
 * other than SEALED (no nesting).
 */
function checkFrames(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return 'an empty sealed batch';
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < HEADER_SIZE) return `a frame header cut at byte ${offset} of the sealed batch`;
    const length = readU32(bytes, offset);
    if (length < HEADER_AFTER_LENGTH || length > bytes.length - offset - 4) {
      return `a frame length of ${length} at byte ${offset} of a ${bytes.length}-byte sealed batch`;
    }
    const version = bytes[offset + 4]!;
    if (version !== PROTOCOL_VERSION) return `a sealed frame of protocol version ${version}`;
    const type = bytes[offset + 5]!;
    if (!isPacketType(type) || type === PacketType.SEALED) return `a sealed frame of packet type ${packetName(type)}`;
    offset += 4 + length;
  }
  return undefined;
}

/**
 * A connection that refuses a malformed stream below this layer (SocketConnection) says why in a
 * GOODBYE in the clear. It proves nothing, but it is usually the real reason: quoted, bounded,
 * marked unauthenticated, for the log.
 */
function clearGoodbyeReason(frame: Frame): string {
  if (frame.type !== PacketType.GOODBYE) return '';
  let said: string;
  try {
    said = parseGoodbye(jsonCodec.decode(frame.body)).reason.slice(0, MAX_QUOTED_REASON);
  } catch {
    return '';
  }
  return ` (unauthenticated; it says: ${JSON.stringify(said)})`;
}

const MAX_QUOTED_REASON = 200;

function readU32(data: Uint8Array, offset: number): number {
  return ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0;
}

function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}
