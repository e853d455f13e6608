import { HEADER_SIZE, type PacketType, writeHeader } from './frame.js';

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
   * Returns the accumulated frames and starts a new buffer. The returned view is owned by the
   * caller (the socket may hold it until written), so the batch never reuses that memory.
   */
  take(): Uint8Array {
    const out = this.buffer.subarray(0, this.length);
    this.buffer = new Uint8Array(Math.max(this.initialCapacity, Math.min(this.length, 1 << 20)));
    this.length = 0;
    this.frameCount = 0;
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
