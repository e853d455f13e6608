import { HEADER_SIZE, type PacketType, writeHeader } from './frame.js';

/** Batches up to this size are copied out by take(); larger ones hand over their buffer. */
const COPY_OUT_LIMIT = 64 * 1024;

/**
 * Accumulates encoded frames into one contiguous buffer so that a connection can hand the
 * socket a single write per flush instead of one per frame (the nats.js habit).
 *
 * Invariant: bytes [0, length) of `buffer` hold whole frames, in append order.
 */
export class FrameBatch {
  private buffer: Uint8Array;
  private length = 0;
  private frameCount = 0;

  constructor(private readonly initialCapacity = 16 * 1024) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  get byteLength(): number {
    return this.length;
  }

  get frames(): number {
    return this.frameCount;
  }

  append(type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    const size = HEADER_SIZE + body.length;
    this.reserve(size);
    writeHeader(this.buffer, this.length, type, flags, stream, body.length);
    this.buffer.set(body, this.length + HEADER_SIZE);
    this.length += size;
    this.frameCount++;
  }

  /** Appends bytes that already form whole frames (e.g. a frame encoded once for many peers). */
  appendRaw(frameBytes: Uint8Array): void {
    this.reserve(frameBytes.length);
    this.buffer.set(frameBytes, this.length);
    this.length += frameBytes.length;
    this.frameCount++;
  }

  /**
   * Returns the accumulated frames and empties the batch. The returned bytes are owned by the
   * caller (the socket may hold them until written), so the batch never reuses that memory:
   * up to COPY_OUT_LIMIT bytes are copied out (a copy, from Node's buffer pool when small, is far
   * cheaper than allocating and zeroing a fresh 16 KiB buffer per flush, which at one flush per
   * call was most of the garbage of a round trip) and the buffer is kept; a larger batch hands
   * its buffer over whole and the batch starts again at the initial capacity.
   */
  take(): Uint8Array {
    const length = this.length;
    this.length = 0;
    this.frameCount = 0;
    if (length > COPY_OUT_LIMIT) {
      const whole = this.buffer.subarray(0, length);
      this.buffer = new Uint8Array(this.initialCapacity);
      return whole;
    }
    const out = Buffer.allocUnsafe(length);
    out.set(this.buffer.subarray(0, length));
    return out;
  }

  private reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < need) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }
}
