import { ParleyError } from '../wire/parley-error.js';

/** Something that buffers incomplete frames and can be made to drop them (a connection). */
export interface BudgetHolder {
  /** Closes the holder because the budget needed its bytes back; it must then call release(). */
  evict(error: ParleyError): void;
}

/** Default bytes of incomplete frames one process may hold, across all its connections: 128 MiB. */
export const DEFAULT_MAX_INCOMPLETE_FRAME_BYTES = 128 * 1024 * 1024;

/**
 * Bounds the bytes held in incomplete frames (a length prefix read, the body still arriving) across
 * connections. Per connection the frame limit bounds them already (the handshake frame limit before
 * HELLO, maxFrameSize after); this bounds their sum, so many connections that each start a large
 * frame and never finish it cannot exhaust memory between them.
 *
 * When the sum passes the budget, the connection whose incomplete frame started EARLIEST is
 * evicted (closed with RESOURCE_EXHAUSTED), then the next, until the sum fits. An honest frame
 * completes within a network round trip; a frame that has been incomplete longest is the most
 * likely to be a peer holding memory on purpose, and the newest frame, which pushed the sum over,
 * is most likely to complete.
 *
 * Invariant: after update() returns, total ≤ maxBytes (evictions release synchronously or are
 * removed from the books here), and `total` equals the sum of the holders' recorded bytes.
 */
export class InboundBudget {
  /** Holder → bytes held and the order in which its current incomplete frame started. */
  private readonly held = new Map<BudgetHolder, { bytes: number; since: number }>();
  private total = 0;
  private sequence = 0;

  constructor(readonly maxBytes: number = DEFAULT_MAX_INCOMPLETE_FRAME_BYTES) {
    if (!(maxBytes > 0)) throw new ParleyError('INVALID_ARGUMENT', 'the incomplete-frame budget must be > 0 bytes');
  }

  get heldBytes(): number {
    return this.total;
  }

  /** Records that `holder` now holds `bytes` of incomplete frames (0 = none), then enforces the budget. */
  update(holder: BudgetHolder, bytes: number): void {
    const entry = this.held.get(holder);
    if (bytes <= 0) {
      this.release(holder);
      return;
    }
    if (entry) {
      this.total += bytes - entry.bytes;
      entry.bytes = bytes;
    } else {
      this.held.set(holder, { bytes, since: this.sequence++ });
      this.total += bytes;
    }
    while (this.total > this.maxBytes) this.evictOldest();
  }

  /** The holder holds nothing any more (its frame completed, or it closed). */
  release(holder: BudgetHolder): void {
    const entry = this.held.get(holder);
    if (!entry) return;
    this.held.delete(holder);
    this.total -= entry.bytes;
  }

  private evictOldest(): void {
    let oldest: BudgetHolder | undefined;
    let since = Number.POSITIVE_INFINITY;
    for (const [holder, entry] of this.held) {
      if (entry.since < since) {
        since = entry.since;
        oldest = holder;
      }
    }
    if (!oldest) return;
    const bytes = this.held.get(oldest)!.bytes;
    this.release(oldest);
    oldest.evict(
      new ParleyError(
        'RESOURCE_EXHAUSTED',
        `closed a connection holding ${bytes} bytes of an unfinished frame: this process holds more than ${this.maxBytes} bytes of unfinished frames; peers must send whole frames promptly`,
      ),
    );
  }
}

/** The budget shared by every TcpTransport of this process that is not given its own. */
export const processInboundBudget = new InboundBudget();
