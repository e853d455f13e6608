import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { DEFAULT_MAX_FIRST_FRAME_SIZE, type Frame, FrameFlag, HEADER_SIZE, PacketType } from '../wire/frame.js';
import { FrameBatch } from '../wire/frame-batch.js';
import { FrameDecoder, FrameError } from '../wire/frame-decoder.js';
import { encodeGoodbye } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import { type Connection, type ConnectionHandlers, outboundQueueFull, type PeerIdentity } from './connection.js';
import type { DirectRead } from './direct-read.js';
import { type BudgetHolder, type InboundBudget, processInboundBudget } from './inbound-budget.js';
import type { OutboundLimits } from './transport.js';

/** A batch larger than this is written at once instead of waiting for the flush. */
const FLUSH_THRESHOLD = 64 * 1024;
/** The first this many frames of a tick are written as soon as they are there (see the class comment). */
export const EARLY_WRITE_FRAMES = 32;

let nextConnectionId = 1;

/** The flush microtask is a reaction on this promise. */
const RESOLVED = Promise.resolve();

const noHandlers: ConnectionHandlers = { onFrame() {}, onClose() {} };

/**
 * A Connection over a Node socket (plain TCP or TLS).
 *
 * Writes: frames are appended to a FrameBatch and written with one socket.write: at the end of
 * the received chunk whose handlers appended them (answers given synchronously leave before
 * Node's stream bookkeeping for that chunk: ~2 µs less per call at concurrency 1), else from a
 * microtask queued by the first append (a reaction on a resolved promise: queueMicrotask also
 * creates an AsyncResource and a bound function, ~150 ns more per flush), or at once when the
 * batch passes FLUSH_THRESHOLD. Everything a tick produces — the responses to all requests of one
 * received chunk, the continuations of all callers woken by one chunk of responses — is appended
 * before that flush, so it still batches, without the extra event-loop turn a setImmediate flush
 * costs (measured: about 15 µs of round-trip latency at concurrency 1, no throughput difference
 * at 100) — except that the first EARLY_WRITE_FRAMES frames of a tick that produces more leave at
 * once, in a write of their own: the peer starts on them while this side produces the rest.
 * Without it two busy peers work in lock-step (one side's whole batch, then the other's answer
 * to it), each idle half the time; the early write costs at most one more write per tick.
 * Backpressure: queued bytes (batch + socket.writableLength) are bounded by maxOutboundBytes.
 * Reads: the socket's 'data' chunks or, given a DirectRead (a dialed plain-TCP socket), borrowed
 * views of a shared receive buffer, of which the decoder copies only an unfinished frame's bytes
 * (a chunk's frames are handled before its read returns, so bodies stay valid for the onFrame
 * call, as the Connection contract promises). A FrameDecoder; a malformed or oversized frame
 * destroys this connection only. The first frame is held to maxFirstFrameSize (it must be the
 * HELLO), and the bytes of an unfinished frame count against an InboundBudget shared by the
 * process, which closes the connection whose unfinished frame is oldest when the sum is too
 * large. Once close() has begun, received bytes are dropped unread.
 */
export class SocketConnection implements Connection, BudgetHolder {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  private handlers: ConnectionHandlers = noHandlers;
  private readonly batch = new FrameBatch();
  private readonly decoder: FrameDecoder;
  private flushScheduled = false;
  /** Frames appended since the last end-of-tick flush (the scheduled one, or a chunk's). */
  private framesThisTick = 0;
  private isClosed = false;
  /** close() or refuse() began: nothing more is read. */
  private closing = false;
  private closeError: Error | undefined;
  private identity: PeerIdentity | undefined | null = null;

  constructor(
    private readonly socket: Socket,
    readonly outbound: boolean,
    private readonly limits: OutboundLimits,
    private readonly budget: InboundBudget = processInboundBudget,
    directRead?: DirectRead,
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = new FrameDecoder({
      maxFrameSize: limits.maxFrameSize,
      maxFirstFrameSize: limits.maxFirstFrameSize ?? DEFAULT_MAX_FIRST_FRAME_SIZE,
    });
    socket.setNoDelay(true);
    // With a DirectRead no 'data' event fires; the listener still keeps the socket flowing, so
    // the peer's end of the stream is read and closes it.
    socket.on('data', (chunk: Buffer) => this.onData(chunk, false));
    directRead?.attach((chunk, borrowed) => this.onData(chunk, borrowed));
    socket.on('error', (err) => {
      this.closeError ??= err;
    });
    socket.on('close', () => this.finish());
  }

  /** The peer's certificate identity (TLS only); read once, a connection's certificate never changes. */
  get peerIdentity(): PeerIdentity | undefined {
    if (this.identity === null) this.identity = this.readPeerIdentity();
    return this.identity;
  }

  private readPeerIdentity(): PeerIdentity | undefined {
    if (!(this.socket instanceof TLSSocket)) return undefined;
    const cert = this.socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return undefined;
    const cn = cert.subject?.CN;
    return {
      commonName: Array.isArray(cn) ? cn[0] : cn,
      subjectAltName: cert.subjectaltname,
      fingerprint256: cert.fingerprint256,
      authorized: this.socket.authorized,
    };
  }

  get pendingBytes(): number {
    return this.batch.byteLength + this.socket.writableLength;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  send(type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    if (this.isClosed || this.socket.destroyed) {
      throw new ParleyError('UNAVAILABLE', `connection to ${this.remoteAddress} is closed`);
    }
    const size = HEADER_SIZE + body.length;
    if (size - 4 > this.limits.maxFrameSize) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `message of ${body.length} bytes exceeds the maximum frame size of ${this.limits.maxFrameSize} bytes; send less data per message or raise maxFrameSize on both nodes`,
      );
    }
    if (this.pendingBytes + size > this.limits.maxOutboundBytes) {
      throw outboundQueueFull(this.remoteAddress, this.pendingBytes, this.limits.maxOutboundBytes);
    }
    this.batch.append(type, flags, stream, body);
    this.framesThisTick++;
    if (this.batch.byteLength >= FLUSH_THRESHOLD || this.framesThisTick === EARLY_WRITE_FRAMES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      RESOLVED.then(this.scheduledFlush);
    }
  }

  /**
   * Connection.sendEncoded: the frame goes to the socket as it is (after what is queued before it)
   * when nothing is queued or it is large; else it joins the batch.
   */
  sendEncoded(frame: Uint8Array): void {
    if (this.isClosed || this.socket.destroyed) {
      throw new ParleyError('UNAVAILABLE', `connection to ${this.remoteAddress} is closed`);
    }
    if (frame.length - 4 > this.limits.maxFrameSize) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `frame of ${frame.length} bytes exceeds the maximum frame size of ${this.limits.maxFrameSize} bytes; send less data per message or raise maxFrameSize on both nodes`,
      );
    }
    if (this.pendingBytes + frame.length > this.limits.maxOutboundBytes) {
      throw outboundQueueFull(this.remoteAddress, this.pendingBytes, this.limits.maxOutboundBytes);
    }
    if (this.batch.byteLength === 0 || frame.length >= FLUSH_THRESHOLD) {
      this.flush();
      this.socket.write(frame);
      return;
    }
    this.batch.appendRaw(frame);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      RESOLVED.then(this.scheduledFlush);
    }
  }

  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.framesThisTick = 0;
    this.flush();
  };

  flush(): void {
    if (this.batch.byteLength === 0 || this.socket.destroyed) return;
    this.socket.write(this.batch.take());
  }

  close(): void {
    if (this.isClosed) return;
    this.stopReading();
    this.flush();
    this.socket.end();
    // A peer that never finishes its side must not keep the socket forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(error?: Error): void {
    if (error) this.closeError ??= error;
    this.socket.destroy();
    this.finish();
  }

  /** The process budget needs this connection's buffered bytes back. */
  evict(error: ParleyError): void {
    this.refuse(error);
  }

  private onData(chunk: Uint8Array, borrowed: boolean): void {
    if (this.isClosed || this.closing) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk, borrowed);
    } catch (err) {
      this.refuse(err as Error);
      return;
    }
    // A completed frame ends the unfinished one: the next starts a new place in the eviction order.
    if (frames.length > 0) this.budget.release(this);
    this.budget.update(this, this.decoder.pendingBytes);
    for (const frame of frames) {
      if (this.isClosed || this.closing) return;
      this.handlers.onFrame(frame);
    }
    // What the chunk's handlers answered synchronously leaves now: the flush microtask would run
    // only after Node's stream bookkeeping for the chunk (maybeReadMore's nextTick).
    if (frames.length > 0) {
      this.framesThisTick = 0;
      this.flush();
    }
  }

  /**
   * Drops whatever arrives from now on, and the unfinished frame held so far. The socket keeps
   * reading (into nothing) so that the peer's end of the stream still arrives and closes it.
   */
  private stopReading(): void {
    if (this.closing) return;
    this.closing = true;
    this.decoder.discard();
    this.budget.release(this);
  }

  /** Tells the peer why (a GOODBYE it can read whatever its version), then closes. */
  private refuse(err: Error): void {
    if (this.isClosed) return;
    this.closeError ??= err;
    const kind = err instanceof FrameError ? err.kind : undefined;
    const code =
      err instanceof ParleyError
        ? err.code
        : kind === 'version'
          ? 'FAILED_PRECONDITION'
          : kind === 'oversized'
            ? 'RESOURCE_EXHAUSTED'
            : 'INVALID_ARGUMENT';
    try {
      this.send(PacketType.GOODBYE, FrameFlag.JSON, 0, encodeGoodbye({ code, reason: err.message }));
    } catch {
      // closed already, or the queue is full: the peer sees the close
    }
    this.socket.pause();
    this.close();
    this.finish();
  }

  private finish(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.budget.release(this);
    const handlers = this.handlers;
    this.handlers = noHandlers;
    handlers.onClose(this.closeError);
  }
}
