import type { Timer } from '../../base/clock.js';
import { ParleyError } from '../../wire/parley-error.js';

interface Batch {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: ParleyError): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: ParleyError) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Linearizable reads share ReadIndex rounds: one round in flight at a time; reads that arrive
 * meanwhile wait together for the next one. (A round costs the leader a heartbeat to every
 * member, and a follower a round trip to the leader.)
 *
 * Invariant: a read is answered only after a round that STARTED after the read arrived has
 * completed, i.e. this member has applied at least the commit index the leader confirmed after
 * the read arrived: joining the round already in flight would not be linearizable.
 *
 * A round that does not complete within `timeoutMs` (its forwarded request or the answer was
 * lost, or the leader changed) fails its reads with UNAVAILABLE; the client retries.
 */
export class ReadBatcher {
  private next: Batch | null = null;
  private inFlight = false;

  constructor(
    private readonly readIndex: (signal: AbortSignal) => Promise<void>,
    private readonly timer: Timer,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once this member may answer a linearizable read that arrived now. */
  wait(): Promise<void> {
    if (this.next === null) this.next = newBatch();
    const { promise } = this.next;
    if (!this.inFlight) this.flush();
    return promise;
  }

  private flush(): void {
    const batch = this.next;
    if (batch === null) return;
    this.next = null;
    this.inFlight = true;
    let done = false;
    const finish = (err: ParleyError | null) => {
      if (done) return;
      done = true;
      cancelTimeout();
      this.inFlight = false;
      if (err === null) batch.resolve();
      else batch.reject(err);
      this.flush();
    };
    const abandon = new AbortController();
    const cancelTimeout = this.timer.setTimeout(() => {
      const err = new ParleyError('UNAVAILABLE', `no read index from the leader within ${this.timeoutMs} ms; retry`, {
        details: { reason: 'read-index-timeout' },
      });
      finish(err);
      abandon.abort(err); // the round's waiter inside raft goes too
    }, this.timeoutMs);
    this.readIndex(abandon.signal).then(
      () => finish(null),
      (err) => finish(ParleyError.from(err)),
    );
  }
}
