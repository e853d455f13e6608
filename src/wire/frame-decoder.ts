import { type Frame, HEADER_AFTER_LENGTH, HEADER_SIZE, isPacketType, PROTOCOL_VERSION, packetName } from './frame.js';

/** Why the decoder refused the stream. After an error the decoder is dead: close the connection. */
export type FrameErrorKind = 'oversized' | 'undersized' | 'version' | 'unknown-type';

export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly kind: FrameErrorKind,
    message: string,
    /** For 'version': the version the peer speaks. */
    readonly peerVersion?: number,
  ) {
    super(message);
  }
}

export interface FrameDecoderLimits {
  /** Largest length field accepted. */
  readonly maxFrameSize: number;
  /**
   * Largest length field accepted for the FIRST frame of the stream (default: maxFrameSize). A
   * connection's first frame must be the peer's HELLO, so a small limit here bounds what a peer
   * that never completes the handshake can make this side buffer.
   */
  readonly maxFirstFrameSize?: number;
}

/**
 * Incremental frame decoder: push byte chunks as they arrive, get whole frames back.
 *
 * Invariants:
 * - buffered bytes never exceed limit + HEADER_SIZE + the size of the last chunk pushed, where the
 *   limit is maxFirstFrameSize until one frame has been read and maxFrameSize after: a length
 *   field above the limit is rejected before any body byte is kept;
 * - a frame's buffer is allocated only once its length has been validated;
 * - bytes kept for an unfinished frame hold at most twice their size in memory: a kept view of a
 *   much larger buffer (a socket read buffer mostly empty) is copied, so the rest can be freed;
 * - nothing is kept of a borrowed chunk (`push(chunk, true)`: memory the caller reuses once push
 *   and the frames' handling return, e.g. a shared socket receive buffer): its bytes of an
 *   unfinished frame are copied;
 * - once an error has been thrown, every later push throws the same error.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private failed: FrameError | undefined;
  private framesRead = 0;
  private readonly maxFrameSize: number;
  private readonly maxFirstFrameSize: number;

  constructor(limits: number | FrameDecoderLimits) {
    const l = typeof limits === 'number' ? { maxFrameSize: limits } : limits;
    this.maxFrameSize = l.maxFrameSize;
    this.maxFirstFrameSize = Math.min(l.maxFirstFrameSize ?? l.maxFrameSize, l.maxFrameSize);
  }

  /**
   * Feeds a chunk and takes ownership of it, or, when `borrowed`, only reads it (its memory is
   * reused after this push's frames have been handled); returns the frames it completed (possibly
   * none). Frame bodies are views into the chunks: decode them before the next push. Throws
   * FrameError.
   */
  push(chunk: Uint8Array, borrowed = false): Frame[] {
    if (this.failed) throw this.failed;
    if (chunk.length === 0) return [];
    const frames: Frame[] = [];
    let data: Uint8Array;
    if (this.buffered === 0) {
      data = chunk;
    } else {
      this.chunks.push(borrowed ? copy(chunk) : compact(chunk));
      this.buffered += chunk.length;
      // Only join once a whole frame (or at least its header) may be present.
      const need = this.neededBytes();
      if (need === undefined || this.buffered < need) return frames;
      data = this.joinBuffered();
    }
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = readU32(data, offset);
      this.validateLength(length, data, offset);
      const total = 4 + length;
      if (data.length - offset < total) break;
      frames.push(this.readFrame(data, offset, length));
      offset += total;
    }
    const left = data.length - offset;
    if (left === 0) {
      this.chunks = [];
      this.buffered = 0;
    } else {
      // Keep the remainder as a view: push() takes ownership of its chunks (the caller must not
      // reuse their memory; Node's socket chunks are never reused), except a borrowed one.
      const rest = data.subarray(offset);
      const tail = borrowed && data === chunk ? copy(rest) : compact(rest);
      this.chunks = [tail];
      this.buffered = left;
    }
    return frames;
  }

  /** Drops the bytes of an unfinished frame (the connection is closing); the decoder is reusable. */
  discard(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  /** Bytes currently held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  private neededBytes(): number | undefined {
    if (this.buffered < 4) return undefined;
    const head = this.buffered >= 4 && this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.peek(4);
    const length = readU32(head, 0);
    this.validateLength(length, head, 0);
    return 4 + length;
  }

  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    for (const c of this.chunks) {
      const take = Math.min(n - filled, c.length);
      out.set(c.subarray(0, take), filled);
      filled += take;
      if (filled === n) break;
    }
    return out;
  }

  private joinBuffered(): Uint8Array {
    const out = new Uint8Array(this.buffered);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = [];
    return out;
  }

  private validateLength(length: number, data: Uint8Array, offset: number): void {
    if (length > this.maxFrameSize) {
      this.fail(
        new FrameError(
          'oversized',
          `frame of ${length} bytes exceeds the maximum frame size of ${this.maxFrameSize} bytes; raise maxFrameSize on both nodes or send smaller payloads`,
        ),
      );
    }
    if (this.framesRead === 0 && length > this.maxFirstFrameSize) {
      this.fail(
        new FrameError(
          'oversized',
          `first frame of ${length} bytes exceeds the ${this.maxFirstFrameSize}-byte limit of a frame before the handshake; a connection must start with a HELLO`,
        ),
      );
    }
    if (length < HEADER_AFTER_LENGTH) {
      this.fail(
        new FrameError('undersized', `frame length ${length} is shorter than the ${HEADER_AFTER_LENGTH}-byte header`),
      );
    }
    // The version byte follows the length; check it as soon as it is there so that a peer of
    // another version is told so before we wait for its (possibly differently sized) frame.
    if (data.length - offset >= 5) {
      const version = data[offset + 4]!;
      if (version !== PROTOCOL_VERSION) {
        this.fail(
          new FrameError(
            'version',
            `peer speaks Parley protocol version ${version}, this node speaks version ${PROTOCOL_VERSION}; run the same Parley major version on both nodes`,
            version,
          ),
        );
      }
    }
  }

  private readFrame(data: Uint8Array, offset: number, length: number): Frame {
    const type = data[offset + 5]!;
    if (!isPacketType(type)) {
      this.fail(new FrameError('unknown-type', `unknown packet type ${packetName(type)}`));
    }
    this.framesRead++;
    return {
      version: data[offset + 4]!,
      type,
      flags: data[offset + 6]!,
      stream: readU32(data, offset + 7),
      body: data.subarray(offset + HEADER_SIZE, offset + 4 + length),
    };
  }

  private fail(err: FrameError): never {
    this.failed = err;
    this.chunks = [];
    this.buffered = 0;
    throw err;
  }
}

/** A view of at least half its underlying buffer as is; a smaller one copied, so the buffer can be freed. */
function compact(view: Uint8Array): Uint8Array {
  return view.byteLength * 2 >= view.buffer.byteLength ? view : copy(view);
}

/** The bytes in new memory (a Buffer's own `slice` would return a view). */
function copy(view: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(view);
}

function readU32(data: Uint8Array, offset: number): number {
  return ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0;
}
