import type { NodeId } from '../types.js';
import type { ReadOnlyOption } from './config.js';
import type { Message } from './messages.js';

/** A ReadIndex request waiting for a quorum of heartbeat acknowledgements. */
export interface ReadIndexStatus {
  /** The original MsgReadIndex (local, or forwarded by a follower). */
  readonly req: Message;
  /** The leader's commit index when the request arrived: the read point. */
  readonly index: number;
  readonly acks: Set<NodeId>;
}

function keyOf(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]!);
  return s;
}

/**
 * Pending ReadIndex requests on the leader ('safe' mode). A request is served once a quorum
 * acknowledged a heartbeat carrying its context (or the context of a later request: heartbeats
 * are answered in order, so an ack for a later request confirms every earlier one too).
 *
 * Invariant: `queue` lists the keys of `pending` in arrival order.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /** Registers a request read at `index`. A duplicate context is ignored. */
  addRequest(index: number, req: Message): void {
    const ctx = req.context ?? new Uint8Array(0);
    const key = keyOf(ctx);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Records that `from` acknowledged the heartbeat carrying `ctx`; returns the acks so far (null if unknown). */
  recvAck(from: NodeId, ctx: Uint8Array): ReadonlySet<NodeId> | null {
    const rs = this.pending.get(keyOf(ctx));
    if (rs === undefined) return null;
    rs.acks.add(from);
    return rs.acks;
  }

  /** Dequeues and returns every request up to and including the one with context `ctx`. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = keyOf(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return done.map((k) => {
      const rs = this.pending.get(k)!;
      this.pending.delete(k);
      return rs;
    });
  }

  /** Context of the newest pending request (sent with heartbeats), or null. */
  lastPendingRequestContext(): Uint8Array | null {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? null : this.pending.get(k)!.req.context;
  }

  get size(): number {
    return this.queue.length;
  }
}
