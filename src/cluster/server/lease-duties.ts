import type { Timer } from '../../base/clock.js';
import type { KvStateMachine } from '../../kv/kv-state-machine.js';
import type { KvResult } from '../../kv/types.js';
import type { Logger } from '../../transport/logger.js';

/** What the lease duties need from their member. */
export interface LeaseDutiesHost {
  readonly sm: KvStateMachine;
  readonly isLeader: boolean;
  /**
   * The raft state the decisions wait for: this member's current term, its commit index, the
   * term of the entry at the commit index, and its applied index.
   */
  raftProgress(): { term: number; commit: number; commitTerm: number; applied: number };
  propose(command: object): Promise<KvResult>;
}

export interface LeaseDutiesOptions {
  readonly logger: Logger;
  /** Wall-clock time: lease `now`s travel in commands and are compared across members. */
  readonly timer: Timer;
  /** How often the leader looks for expired leases (default 200 ms). */
  readonly leaseCheckMs?: number;
  /** How often the leader checkpoints remaining TTLs (default 1000 ms). */
  readonly checkpointMs?: number;
}

/**
 * The leader's lease duties: renew on keep-alive, propose the expiry of leases whose deadline
 * passed, and checkpoint remaining TTLs so a new leader does not extend every lease by a full TTL.
 *
 * Invariant (no keep-alive lost to an expiry): an expiry or a checkpoint is decided only on a
 * state machine that has applied every entry that could renew the lease, so neither is ever
 * applied after a keep-alive that the decision did not see:
 * - the member has applied everything committed, and has committed an entry of its own term
 *   (a fresh leader's log may hold keep-alives of its predecessor's term that are not committed
 *   yet: they commit together with its first entry, and are applied before anything it decides);
 * - no keep-alive proposed by this member is in flight for the lease: the decision would be taken
 *   on a deadline that keep-alive is about to move, and the keep-alive is ahead of it in the log.
 * A keep-alive that reaches the leader after the deadline by the leader's clock loses the lease:
 * that is what the deadline means.
 */
export class LeaseDuties {
  /** Keep-alives proposed here and not yet settled, per lease. */
  private readonly renewing = new Map<number, number>();
  private expiring = false;
  private checkpointing = false;
  private cancels: (() => void)[] = [];
  private running = false;

  constructor(
    private readonly host: LeaseDutiesHost,
    private readonly o: LeaseDutiesOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.every(this.o.leaseCheckMs ?? 200, () => this.expire());
    this.every(this.o.checkpointMs ?? 1000, () => this.checkpoint());
  }

  stop(): void {
    this.running = false;
    for (const cancel of this.cancels) cancel();
    this.cancels = [];
  }

  /** Renews a lease (leader): replicates a keep-alive stamped with the leader's time. */
  async keepAlive(id: number): Promise<KvResult> {
    this.renewing.set(id, (this.renewing.get(id) ?? 0) + 1);
    try {
      return await this.host.propose({ type: 'lease-keepalive', id, now: this.o.timer.now() });
    } finally {
      const n = (this.renewing.get(id) ?? 1) - 1;
      if (n <= 0) this.renewing.delete(id);
      else this.renewing.set(id, n);
    }
  }

  /** Whether this member may decide on lease deadlines now (see the class invariant). */
  private settled(): boolean {
    if (!this.host.isLeader) return false;
    const p = this.host.raftProgress();
    return p.applied >= p.commit && p.commitTerm === p.term;
  }

  /** Leader only: propose the expiry of leases whose deadline passed (one proposal in flight at a time). */
  expire(): void {
    if (this.expiring || !this.settled()) return;
    const ids = this.host.sm.expiredLeases(this.o.timer.now()).filter((id) => !this.renewing.has(id));
    if (ids.length === 0) return;
    this.expiring = true;
    this.host
      .propose({ type: 'lease-expire', ids })
      .catch((err) => this.o.logger.debug('lease expiry not applied', { error: String(err) }))
      .finally(() => {
        this.expiring = false;
      });
  }

  /** Leader only: record remaining TTLs (never of a lease being renewed: it would undo the renewal). */
  checkpoint(): void {
    if (this.checkpointing || !this.settled()) return;
    const checkpoints = this.host.sm.leaseCheckpoints(this.o.timer.now()).filter((c) => !this.renewing.has(c.id));
    if (checkpoints.length === 0) return;
    this.checkpointing = true;
    this.host
      .propose({ type: 'lease-checkpoint', checkpoints })
      .catch((err) => this.o.logger.debug('lease checkpoint not applied', { error: String(err) }))
      .finally(() => {
        this.checkpointing = false;
      });
  }

  private every(ms: number, fn: () => void): void {
    const slot = this.cancels.length;
    const schedule = () => {
      this.cancels[slot] = this.o.timer.setTimeout(() => {
        if (!this.running) return;
        fn();
        schedule();
      }, ms);
    };
    schedule();
  }
}
