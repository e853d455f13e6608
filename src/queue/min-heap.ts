/**
 * A binary min-heap over a caller-given strict order. The queue's consumer state keeps its
 * timed and sequence-ordered work in these; stale items are left in place and skipped by the
 * caller when they surface (lazy deletion), so every operation is O(log n).
 *
 * Invariant: for every index i > 0, `before(items[parent(i)], items[i])` or the two are equal in
 * the order. The order must be total over the items a caller pushes (ties broken, e.g. by
 * sequence number) so that the pop order, and with it every replica's behaviour, does not depend
 * on the heap's internal layout.
 */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(items[right]!, items[left]!) ? right : left;
      if (!this.before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.items = [];
  }
}
