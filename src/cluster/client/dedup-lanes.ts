/** Retries inside one operation: one `(clientId, seq)` per in-flight write, reused by its retries. */
export class DedupLanes {
  private readonly free: { id: string; seq: number }[] = [];
  private count = 0;
  constructor(private readonly base: string) {}
  acquire(): { id: string; seq: number } {
    const lane = this.free.pop() ?? { id: `${this.base}/${this.count++}`, seq: 0 };
    lane.seq++;
    return lane;
  }
  release(lane: { id: string; seq: number }): void {
    this.free.push(lane);
  }
}
