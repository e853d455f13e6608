import { ParleyError } from '../wire/parley-error.js';

/**
 * Replicated lease table plus the leader-local deadlines.
 *
 * Replicated (in snapshots): id, granted ttlMs, the last checkpointed remaining TTL and the
 * attached keys. Local (not in snapshots): `deadline`, the wall-clock expiry as this member
 * believes it. Grant and keep-alive carry the leader's `now`, so every member computes the same
 * deadline for them; a new leader calls `promote(now)`, which sets every deadline to
 * now + remaining (the last checkpoint, or the full TTL when none was taken since the last
 * grant/keep-alive). A leader change therefore extends a lease by at most one checkpoint
 * interval, not by a full TTL.
 *
 * Invariant: a key byte string is in at most one lease's `keys`, and it is in lease L's keys
 * iff the key's live value has lease L.
 */
export interface Lease {
  readonly id: number;
  readonly ttlMs: number;
  remainingMs: number;
  readonly keys: Set<string>;
  deadline: number;
}

export class LeaseTable {
  private readonly leases = new Map<number, Lease>();
  /** Next id handed out when a grant asks for none. */
  nextId = 1;

  get(id: number): Lease | undefined {
    return this.leases.get(id);
  }

  mustGet(id: number): Lease {
    const l = this.leases.get(id);
    if (l === undefined) throw new ParleyError('NOT_FOUND', `lease ${id} not found`, { details: { lease: id } });
    return l;
  }

  grant(id: number | undefined, ttlMs: number, now: number): Lease {
    let lid = id ?? 0;
    if (lid === 0) {
      while (this.leases.has(this.nextId)) this.nextId++;
      lid = this.nextId++;
    } else if (this.leases.has(lid)) {
      throw new ParleyError('ALREADY_EXISTS', `lease ${lid} already exists`, { details: { lease: lid } });
    }
    const l: Lease = { id: lid, ttlMs, remainingMs: ttlMs, keys: new Set(), deadline: now + ttlMs };
    this.leases.set(lid, l);
    return l;
  }

  /** Refreshes: the remaining TTL becomes the full TTL again. */
  keepAlive(id: number, now: number): Lease {
    const l = this.mustGet(id);
    l.remainingMs = l.ttlMs;
    l.deadline = now + l.ttlMs;
    return l;
  }

  remove(id: number): Lease | undefined {
    const l = this.leases.get(id);
    this.leases.delete(id);
    return l;
  }

  checkpoint(id: number, remainingMs: number): void {
    const l = this.leases.get(id);
    if (l !== undefined) l.remainingMs = Math.min(remainingMs, l.ttlMs);
  }

  /** Leader-local: recompute every deadline after becoming leader. */
  promote(now: number): void {
    for (const l of this.leases.values()) l.deadline = now + l.remainingMs;
  }

  /** Leases whose deadline is at or before `now`, by id. */
  expired(now: number): number[] {
    return this.all()
      .filter((l) => l.deadline <= now)
      .map((l) => l.id);
  }

  /** Remaining TTLs for a checkpoint command, by id. */
  checkpoints(now: number): { id: number; remainingMs: number }[] {
    return this.all().map((l) => ({ id: l.id, remainingMs: Math.max(0, Math.min(l.ttlMs, l.deadline - now)) }));
  }

  all(): Lease[] {
    return [...this.leases.values()].sort((a, b) => a.id - b.id);
  }

  clear(): void {
    this.leases.clear();
    this.nextId = 1;
  }

  set(l: Lease): void {
    this.leases.set(l.id, l);
  }
}
