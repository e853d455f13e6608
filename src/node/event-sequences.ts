/**
 * Per-sender ordering of events. A sender numbers the events it sends to each receiver 1, 2, 3…
 * (per receiver incarnation); a receiver tracks the last number per sender incarnation and reports
 * how many were missed when a number is skipped (events lost while a connection was down).
 * Events travel on one ordered connection, so numbers arrive in order except across a connection
 * switch, where a late (lower) number is delivered and does not move the counter back.
 */
export class EventSequences {
  private readonly sent = new Map<string, number>();
  private readonly received = new Map<string, { incarnation: string; last: number }>();

  /** The next sequence number for an event to `peerId`. Also consumed for events that could not be sent. */
  next(peerId: string): number {
    const n = (this.sent.get(peerId) ?? 0) + 1;
    this.sent.set(peerId, n);
    return n;
  }

  /** A receiver restarted: its numbering starts again at 1. */
  resetSent(peerId: string): void {
    this.sent.delete(peerId);
  }

  /** Records an event from `peerId`; returns how many events from it were missed just before. */
  receive(peerId: string, incarnation: string, seq: number): number {
    const state = this.received.get(peerId);
    if (!state || state.incarnation !== incarnation) {
      this.received.set(peerId, { incarnation, last: seq });
      return Math.max(0, seq - 1);
    }
    if (seq <= state.last) return 0;
    const missed = seq - state.last - 1;
    state.last = seq;
    return missed;
  }

  forget(peerId: string): void {
    this.sent.delete(peerId);
    this.received.delete(peerId);
  }
}
