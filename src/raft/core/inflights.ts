import { invariant } from './errors.js';

/**
 * The MsgApp messages in flight to one follower, as a ring buffer of (last index, bytes).
 * Bounded by a count (maxInflightMsgs) and, optionally, by total bytes (maxInflightBytes).
 *
 * Invariant: indexes are added in strictly increasing order, so the buffer is sorted and
 * freeLE() frees a prefix. `bytes` is the sum of the sizes in the buffer.
 */
export class Inflights {
  private readonly indexes: number[];
  private readonly sizes: number[];
  private start = 0;
  private _count = 0;
  private _bytes = 0;

  constructor(
    readonly maxCount: number,
    /** 0 = unlimited. */
    readonly maxBytes: number,
  ) {
    invariant(maxCount > 0, 'maxInflightMsgs must be > 0');
    this.indexes = new Array<number>(maxCount).fill(0);
    this.sizes = new Array<number>(maxCount).fill(0);
  }

  get count(): number {
    return this._count;
  }

  get bytes(): number {
    return this._bytes;
  }

  /** Records a message whose last entry has `index`. Throws if full (callers check full() first). */
  add(index: number, bytes: number): void {
    invariant(!this.full(), 'cannot add to a full inflights buffer');
    if (this._count > 0) {
      const last = this.indexes[(this.start + this._count - 1) % this.maxCount]!;
      invariant(index > last, () => `inflight index ${index} not above the last one ${last}`);
    }
    const slot = (this.start + this._count) % this.maxCount;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this._count++;
    this._bytes += bytes;
  }

  /** Frees every message whose index is <= `index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this._count > 0 && this.indexes[this.start]! <= index) {
      this._bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.maxCount;
      this._count--;
    }
    if (this._count === 0) this.start = 0;
  }

  full(): boolean {
    return this._count === this.maxCount || (this.maxBytes > 0 && this._bytes >= this.maxBytes);
  }

  reset(): void {
    this.start = 0;
    this._count = 0;
    this._bytes = 0;
  }
}
