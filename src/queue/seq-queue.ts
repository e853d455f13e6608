/**
 * A FIFO of message sequence numbers with lazy removal: entries are pushed in increasing order
 * and removed from anywhere by the owner forgetting them (`isLive` turns false); `head` drops
 * dead entries from the front as it meets them. Each sequence is pushed once and dropped once,
 * so `head` is amortized O(1). A consumer keeps one for its ack floor (every message it holds)
 * and one per ordering key (the messages of that key it holds, oldest first).
 *
 * Invariant: `items[start..]` is strictly increasing; everything before `start` is dead.
 */
export class SeqQueue {
  private items: number[] = [];
  private start = 0;

  push(seq: number): void {
    this.items.push(seq);
  }

  /** The oldest live sequence, or undefined when none is live (dead ones in front are dropped). */
  head(isLive: (seq: number) => boolean): number | undefined {
    while (this.start < this.items.length) {
      const seq = this.items[this.start]!;
      if (isLive(seq)) {
        this.compact();
        return seq;
      }
      this.start++;
    }
    this.items = [];
    this.start = 0;
    return undefined;
  }

  private compact(): void {
    if (this.start > 64 && this.start * 2 > this.items.length) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
  }
}
