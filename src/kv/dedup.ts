import { ParleyError } from '../wire/parley-error.js';

/**
 * Remembers recent results per (clientId, seq) so that a client retrying a command after an
 * unknown outcome gets the first outcome back instead of a second application.
 *
 * Bounded: per client the `perClient` highest seqs; at most `maxClients` clients, the one
 * registered first forgotten first (Map insertion order, identical on every replica). A seq
 * below the client's remembered window that is not remembered fails with FAILED_PRECONDITION:
 * the outcome is no longer known.
 */
export interface DedupEntry<R> {
  readonly seq: number;
  readonly result: R;
}

export class DedupTable<R> {
  private readonly clients = new Map<string, { floor: number; entries: DedupEntry<R>[] }>();

  constructor(
    private readonly perClient: number,
    private readonly maxClients: number,
  ) {}

  /** The remembered result, or undefined when (clientId, seq) is new. */
  lookup(clientId: string, seq: number): R | undefined {
    const c = this.clients.get(clientId);
    if (c === undefined) return undefined;
    for (const e of c.entries) if (e.seq === seq) return e.result;
    if (seq < c.floor) {
      throw new ParleyError(
        'FAILED_PRECONDITION',
        `request ${clientId}/${seq} is too old to tell whether it was applied`,
        {
          details: { clientId, seq, oldestRemembered: c.floor },
        },
      );
    }
    return undefined;
  }

  record(clientId: string, seq: number, result: R): void {
    let c = this.clients.get(clientId);
    if (c === undefined) {
      if (this.clients.size >= this.maxClients) this.clients.delete(this.clients.keys().next().value!);
      c = { floor: 0, entries: [] };
      this.clients.set(clientId, c);
    }
    // Kept sorted by seq; seqs usually grow, so this is almost always a push.
    let at = c.entries.length;
    while (at > 0 && c.entries[at - 1]!.seq > seq) at--;
    c.entries.splice(at, 0, { seq, result });
    while (c.entries.length > this.perClient) c.floor = c.entries.shift()!.seq + 1;
  }

  /** For snapshots: clients in insertion order. */
  dump(): [string, number, DedupEntry<R>[]][] {
    return [...this.clients].map(([id, c]) => [id, c.floor, c.entries]);
  }

  load(rows: [string, number, DedupEntry<R>[]][]): void {
    this.clients.clear();
    for (const [id, floor, entries] of rows) this.clients.set(id, { floor, entries });
  }
}
