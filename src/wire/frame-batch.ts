import { HEADER_SIZE, type PacketType, writeHeader } from './frame.js';

/** Batches up to this size are copied out by take(); larger ones hand over their buffer. */
const COPY_OUT_LIMIT = 64 * 1024;
/**
 * After a batch hands over its buffer, or is cleared, it keeps the capacity it grew to, up to
 * this: a connection that flushes 64 KiB batches does not regrow 16 → 128 KiB, copying as it goes,
 * for every batch. Above it, the batch returns to its initial capacity, so one huge frame does not
 * pin its memory for the life of the connection.
 */
const RETAINED_CAPACITY_LIMIT = 128 * 1024;
const NO_BYTES = new Uint8Array(0);

/** The smallest buffer a batch grows to (a batch may start smaller). */
const MIN_GROWN_CAPACITY = 1024;

/**
 * Accumulates encoded frames into one contiguous buffer so that a connection can hand the
 * socket a single write per flush instead of one per frame (the nats.js habit).
 *
 * Invariants:
 * - bytes [0, length) of `buffer` hold whole frames, in append order; nothing past `length` is
 *   ever handed out, so the buffer is allocated without zeroing (Buffer.allocUnsafeSlow);
 * - bytes returned by take() belong to the caller: the batch never writes to them again;
 * - bytes returned by view() stay the batch's: valid until the next append, clear or take.
 */
export class FrameBatch {
  private buffer: Uint8Array;
  private length = 0;
  private frameCount = 0;
  /** The capacity of the next buffer, after one was handed over (allocated at the next append). */
  private nextCapacity: number;

  constructor(private readonly initialCapacity = 16 * 1024) {
    this.buffer = Buffer.allocUnsafeSlow(initialCapacity);
    this.nextCapacity = initialCapacity;
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
   * cheaper than allocating a fresh 16 KiB buffer per flush, which at one flush per call was most
   * of the garbage of a round trip) and the buffer is kept; a larger batch hands its buffer over
   * whole and the batch makes a new one of the same capacity at its next append (see
   * RETAINED_CAPACITY_LIMIT).
   */
  take(): Uint8Array {
    const length = this.length;
    this.length = 0;
    this.frameCount = 0;
    if (length > COPY_OUT_LIMIT) {
      const whole = this.buffer.subarray(0, length);
      this.nextCapacity = this.retainedCapacity();
      this.buffer = NO_BYTES; // an idle connection holds no buffer until it sends again
      return whole;
    }
    const out = Buffer.allocUnsafe(length);
    out.set(this.buffer.subarray(0, length));
    return out;
  }

  /**
   * The accumulated frames, in place: for a caller that consumes them at once (a cipher reading
   * them) and then calls clear(). Valid until the next append, clear or take.
   */
  view(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** Empties the batch; the buffer is kept for the next frames (see RETAINED_CAPACITY_LIMIT). */
  clear(): void {
    this.length = 0;
    this.frameCount = 0;
    if (this.buffer.length > RETAINED_CAPACITY_LIMIT) this.buffer = Buffer.allocUnsafeSlow(this.initialCapacity);
  }

  private retainedCapacity(): number {
    return this.buffer.length > RETAINED_CAPACITY_LIMIT ? this.initialCapacity : this.buffer.length;
  }

  private reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buffer.length) return;
    let capacity = Math.max(this.buffer.length * 2, this.nextCapacity, MIN_GROWN_CAPACITY);
    while (capacity < need) capacity *= 2;
    const next = Buffer.allocUnsafeSlow(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }
}
