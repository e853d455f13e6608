import type { Prng } from '../../base/random.js';
import type { Message } from '../core/messages.js';
import type { NodeId } from '../types.js';

/** How unreliable the simulated network is. Probabilities are per message. */
export interface NetworkFaults {
  /** Lose the message. */
  readonly drop: number;
  /** Deliver it twice (the copy gets its own delay). */
  readonly duplicate: number;
  /** Give it a long delay (up to maxDelay steps) instead of 1..baseDelay: this reorders. */
  readonly delay: number;
  readonly baseDelay: number;
  readonly maxDelay: number;
}

export const CLEAN_NETWORK: NetworkFaults = { drop: 0, duplicate: 0, delay: 0, baseDelay: 1, maxDelay: 1 };

export interface InFlight {
  readonly message: Message;
  readonly deliverAt: number;
  /** Order of sending, to break ties deterministically. */
  readonly seq: number;
}

export type Delivery = { readonly kind: 'deliver' | 'partitioned'; readonly message: Message };

/**
 * The simulated network: every message gets a delivery step, drawn from the seeded generator;
 * messages are dropped, duplicated and delayed (so reordered). A partition assigns every member
 * a side; a message crosses only between members on the same side, checked both when it is sent
 * and when it arrives (a partition cuts what is already in flight).
 *
 * Invariant: `pending` holds exactly the messages not yet delivered or dropped; nothing is
 * delivered before its deliverAt step, and messages due at the same step are delivered in a
 * seeded random order.
 */
export class SimNetwork {
  faults: NetworkFaults;
  private pending: InFlight[] = [];
  private seq = 0;
  /** member → side; members absent from the map are on side 0. */
  private sides = new Map<NodeId, number>();
  stats = { sent: 0, dropped: 0, duplicated: 0, delivered: 0, cut: 0 };

  constructor(
    private readonly rng: Prng,
    faults: NetworkFaults,
  ) {
    this.faults = faults;
  }

  /** Queues a message for delivery. False when it is lost at once (partitioned or dropped). */
  send(now: number, message: Message): boolean {
    this.stats.sent++;
    if (!this.connected(message.from, message.to)) {
      this.stats.cut++;
      return false;
    }
    const f = this.faults;
    if (f.drop > 0 && this.rng.chance(f.drop)) {
      this.stats.dropped++;
      return false;
    }
    this.enqueue(now, message);
    if (f.duplicate > 0 && this.rng.chance(f.duplicate)) {
      this.stats.duplicated++;
      this.enqueue(now, message);
    }
    return true;
  }

  /** Removes and returns the messages due at `now`, in a seeded random order. */
  due(now: number): Delivery[] {
    const ready: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const m of this.pending) (m.deliverAt <= now ? ready : rest).push(m);
    this.pending = rest;
    this.rng.shuffle(ready);
    return ready.map((m) => {
      const ok = this.connected(m.message.from, m.message.to);
      if (ok) this.stats.delivered++;
      else this.stats.cut++;
      return { kind: ok ? 'deliver' : 'partitioned', message: m.message };
    });
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Splits the members into sides (side numbers are arbitrary labels). */
  partition(sides: ReadonlyMap<NodeId, number>): void {
    this.sides = new Map(sides);
  }

  heal(): void {
    this.sides.clear();
  }

  get partitioned(): boolean {
    return this.sides.size > 0;
  }

  connected(a: NodeId, b: NodeId): boolean {
    return (this.sides.get(a) ?? 0) === (this.sides.get(b) ?? 0);
  }

  describePartition(): string {
    const bySide = new Map<number, NodeId[]>();
    for (const [id, side] of this.sides) bySide.set(side, [...(bySide.get(side) ?? []), id]);
    return [...bySide.values()].map((ids) => `{${ids.sort().join(',')}}`).join(' | ');
  }

  private enqueue(now: number, message: Message): void {
    const f = this.faults;
    const delay =
      f.delay > 0 && this.rng.chance(f.delay) ? this.rng.range(1, f.maxDelay) : this.rng.range(1, f.baseDelay);
    this.pending.push({ message, deliverAt: now + delay, seq: this.seq++ });
  }
}
