import type { Entry } from '../raft/types.js';
import { ParleyError } from '../wire/parley-error.js';
import { staleAuthRevision } from './auth/auth-errors.js';
import { AuthStore } from './auth/auth-store.js';
import type { AuthStamp, KvCaller } from './auth/auth-types.js';
import { checkCommand, checkLeaseKeys } from './auth/command-permissions.js';
import { byteString } from './bytes.js';
import { decodeCommand } from './command-codec.js';
import type {
  DeleteOp,
  KvCommand,
  KvOperation,
  LeaseExpireCommand,
  PutOp,
  RangeOp,
  TxnCommand,
  TxnOp,
} from './commands.js';
import { validateCommand } from './commands.js';
import { DedupTable } from './dedup.js';
import { keyRange } from './key-range.js';
import { LeaseTable } from './leases.js';
import { DEFAULT_LIMITS, type KvLimits, RECORD_OVERHEAD_BYTES } from './limits.js';
import { MvccStore, type WriteTxn } from './mvcc-store.js';
import { decodeSnapshot, encodeSnapshot, SnapshotEncoder, type SnapshotSource } from './snapshot-codec.js';
import { evaluateCompare } from './txn.js';
import type { ApplyOutcome, KeyValue, KvEvent, KvResult, LeaseInfo } from './types.js';
import { WatchHub } from './watch-hub.js';

/** What the Raft driver needs (the lead adapts it to the driver's interface). */
export interface KvStateMachineLike {
  applyEntry(entry: Entry): ApplyOutcome | undefined;
  snapshot(): Uint8Array;
  restore(snapshot: Uint8Array): void;
}

/**
 * The replicated key-value state machine: pure and deterministic. Time enters only through
 * command fields (`now` of lease-grant / lease-keepalive) and through the leader-local calls
 * `promote(now)`, `expiredLeases(now)`, `leaseCheckpoints(now)` and `timeToLive(id, now)`,
 * which never change replicated state.
 *
 * Auth (see auth/auth-store.ts): a command stamped with an auth revision other than the
 * store's fails with ABORTED (reason 'auth-revision-changed') before anything else, and is not
 * remembered for retries, so the member can check it again and propose it anew; otherwise its
 * caller's permissions are checked as it is applied (checkCommand), against the very state it
 * runs on. A change of the auth state ends the watches it no longer allows.
 */
export class KvStateMachine implements KvStateMachineLike {
  readonly limits: KvLimits;
  readonly store = new MvccStore();
  readonly leases = new LeaseTable();
  readonly auth = new AuthStore();
  readonly watches: WatchHub;
  private dedup: DedupTable<ApplyOutcome>;
  /** Index of the last Raft entry applied (0 before any). */
  appliedIndex = 0;

  constructor(options: { limits?: Partial<KvLimits>; maxWatchBacklog?: number } = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.watches = new WatchHub(this.store, options.maxWatchBacklog);
    this.dedup = new DedupTable(this.limits.dedupPerClient, this.limits.dedupClients);
  }

  /** Applies a committed Raft entry. Empty entries (leader no-ops) and already applied indexes are skipped. */
  applyEntry(entry: Entry): ApplyOutcome | undefined {
    if (entry.index <= this.appliedIndex) return undefined;
    this.appliedIndex = entry.index;
    if (entry.data.length === 0) return undefined;
    return this.apply(entry.data);
  }

  /**
   * Applies a command: bytes from `encodeCommand` (a Raft entry) or an object, which is
   * validated first. Never throws.
   */
  apply(command: Uint8Array | unknown): ApplyOutcome {
    let cmd: KvCommand;
    try {
      cmd = command instanceof Uint8Array ? decodeCommand(command, this.limits) : validateCommand(command, this.limits);
    } catch (err) {
      return { ok: false, error: ParleyError.from(err) };
    }
    const stamp = cmd.auth;
    if (stamp !== undefined && stamp.revision !== this.auth.revision) {
      return { ok: false, error: staleAuthRevision(stamp.revision, this.auth.revision) };
    }
    // A retry identity is scoped to its user: nobody reads another user's remembered outcomes.
    const clientId =
      cmd.clientId === undefined || stamp?.user == null ? cmd.clientId : `${stamp.user}\u0000${cmd.clientId}`;
    if (clientId !== undefined && cmd.seq !== undefined) {
      try {
        const seen = this.dedup.lookup(clientId, cmd.seq);
        if (seen !== undefined) return seen;
      } catch (err) {
        return { ok: false, error: ParleyError.from(err) };
      }
    }
    const outcome = this.execute(cmd);
    if (clientId !== undefined && cmd.seq !== undefined) this.dedup.record(clientId, cmd.seq, outcome);
    return outcome;
  }

  private execute(cmd: KvCommand): ApplyOutcome {
    try {
      if (cmd.auth !== undefined) checkCommand(this.auth, callerOf(cmd.auth), cmd, this.leases);
      return { ok: true, result: this.run(cmd) };
    } catch (err) {
      return { ok: false, error: ParleyError.from(err) };
    }
  }

  private run(cmd: KvCommand): KvResult {
    switch (cmd.type) {
      case 'range':
        return this.range(cmd, false);
      case 'put':
      case 'delete':
        return this.write([cmd], (w, resp) => ({ ...resp[0]!, revision: this.revisionAfter(w) }) as KvResult);
      case 'txn':
        return this.txn(cmd);
      case 'compact':
        this.store.compact(cmd.revision);
        return { type: 'compact', revision: this.store.revision };
      case 'lease-grant': {
        const l = this.leases.grant(cmd.id, cmd.ttlMs, cmd.now);
        return { type: 'lease-grant', id: l.id, ttlMs: l.ttlMs, revision: this.store.revision };
      }
      case 'lease-keepalive': {
        const l = this.leases.keepAlive(cmd.id, cmd.now);
        return { type: 'lease-keepalive', id: l.id, ttlMs: l.ttlMs, revision: this.store.revision };
      }
      case 'lease-revoke': {
        this.leases.mustGet(cmd.id);
        const r = this.expire({ type: 'lease-expire', ids: [cmd.id] });
        return { type: 'lease-revoke', revision: r.revision };
      }
      case 'lease-expire':
        return this.expire(cmd);
      case 'lease-checkpoint':
        for (const c of cmd.checkpoints) this.leases.checkpoint(c.id, c.remainingMs);
        return { type: 'lease-checkpoint', revision: this.store.revision };
      default:
        if (this.auth.run(cmd))
          this.watches.endDisallowed((caller, range) => this.auth.checkRange(caller, range, 'read'));
        return { type: 'auth', authRevision: this.auth.revision };
    }
  }

  // ---- auth checks outside the log ----

  /**
   * Checks that `caller` may run `op` on the state applied now (reads served locally, and every
   * command before it is proposed); returns the stamp to propose it with (undefined for the
   * server's own commands). Throws UNAUTHENTICATED / PERMISSION_DENIED.
   */
  authorize(caller: KvCaller, op: KvOperation): AuthStamp | undefined {
    if (caller.kind === 'server') return undefined;
    checkCommand(this.auth, caller, op, this.leases);
    return { user: caller.authenticated ? caller.name : null, revision: this.auth.revision };
  }

  private revisionAfter(w: WriteTxn): number {
    return w.changed ? w.main : this.store.revision;
  }

  /** Runs write-capable ops in one write transaction: one revision, or none if nothing changed. */
  private write(ops: readonly TxnOp[], result: (w: WriteTxn, responses: KvResult[]) => KvResult): KvResult {
    let added = 0;
    for (const op of ops) if (op.type === 'put') added += op.key.length + op.value.length + RECORD_OVERHEAD_BYTES;
    if (added > 0 && this.store.sizeBytes + added > this.limits.quotaBytes) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `quota exceeded (${this.store.sizeBytes} + ${added} > ${this.limits.quotaBytes} bytes); compact and defragment or raise the quota`,
        { details: { sizeBytes: this.store.sizeBytes, quotaBytes: this.limits.quotaBytes } },
      );
    }
    const w = this.store.beginWrite();
    let responses: KvResult[];
    try {
      responses = ops.map((op) => this.op(w, op));
    } catch (err) {
      w.abort();
      throw err;
    }
    const out = result(w, responses);
    this.publish(w.main, w.end());
    return out;
  }

  private publish(revision: number, events: KvEvent[]): void {
    if (events.length > 0) this.watches.onApplied(revision, events);
  }

  private op(w: WriteTxn, op: TxnOp): KvResult {
    switch (op.type) {
      case 'range':
        return this.range(op, true);
      case 'put':
        return this.put(w, op);
      case 'delete':
        return this.deleteRange(w, op);
    }
  }

  private range(op: RangeOp, inTxn: boolean): KvResult {
    return { type: 'range', ...this.store.range(keyRange(op.range), op.options, inTxn) };
  }

  private put(w: WriteTxn, op: PutOp): KvResult {
    const k = byteString(op.key);
    const prev = this.store.get(k);
    if ((op.ignoreValue === true || op.ignoreLease === true) && prev === undefined) {
      throw new ParleyError('NOT_FOUND', 'ignoreValue/ignoreLease need an existing key', { details: { key: op.key } });
    }
    const lease = op.ignoreLease === true ? prev!.lease : (op.lease ?? 0);
    const value = op.ignoreValue === true ? prev!.value : op.value;
    if (lease !== 0) this.leases.mustGet(lease);
    const { prevKv } = w.put(k, op.key, value, lease);
    this.moveLease(w, k, prevKv?.lease ?? 0, lease);
    return op.prevKv === true && prevKv !== undefined
      ? { type: 'put', revision: w.main, prevKv }
      : { type: 'put', revision: w.main };
  }

  private deleteRange(w: WriteTxn, op: DeleteOp): KvResult {
    const prevKvs: KeyValue[] = [];
    for (const k of this.store.keysIn(keyRange(op.range))) {
      const prev = w.delete(k);
      if (prev === undefined) continue;
      prevKvs.push(prev);
      this.moveLease(w, k, prev.lease, 0);
    }
    const revision = prevKvs.length > 0 ? w.main : this.store.revision;
    return op.prevKv === true
      ? { type: 'delete', deleted: prevKvs.length, revision, prevKvs }
      : { type: 'delete', deleted: prevKvs.length, revision };
  }

  /** Keeps lease → keys in step with the key's live lease, undoably. */
  private moveLease(w: WriteTxn, k: string, from: number, to: number): void {
    if (from === to) return;
    const a = from === 0 ? undefined : this.leases.get(from);
    const b = to === 0 ? undefined : this.leases.get(to);
    a?.keys.delete(k);
    b?.keys.add(k);
    w.onAbort(() => {
      b?.keys.delete(k);
      a?.keys.add(k);
    });
  }

  private txn(cmd: TxnCommand): KvResult {
    const succeeded = cmd.compare.every((c) => evaluateCompare(c, this.store.get(byteString(c.key))));
    const ops = succeeded ? cmd.success : cmd.failure;
    return this.write(ops, (w, responses) => ({
      type: 'txn',
      succeeded,
      // Writes inside the txn report the txn's revision.
      responses: responses.map((r) =>
        r.type === 'put' || r.type === 'delete' ? { ...r, revision: this.revisionAfter(w) } : r,
      ),
      revision: this.revisionAfter(w),
    }));
  }

  /** Deletes the keys of every listed lease that exists, in one revision, then drops the leases. */
  private expire(cmd: LeaseExpireCommand): Extract<KvResult, { type: 'lease-expire' }> {
    const ids = [...new Set(cmd.ids)].filter((id) => this.leases.get(id) !== undefined).sort((a, b) => a - b);
    const keys: string[] = [];
    for (const id of ids) keys.push(...[...this.leases.get(id)!.keys].sort());
    const w = this.store.beginWrite();
    for (const k of keys) w.delete(k);
    for (const id of ids) this.leases.remove(id);
    const revision = this.revisionAfter(w);
    this.publish(w.main, w.end());
    return { type: 'lease-expire', expired: ids, revision };
  }

  // ---- leader-local queries (never change replicated state) ----

  /** Leases whose deadline has passed by `now`; the leader proposes `lease-expire` for them. */
  expiredLeases(now: number): number[] {
    return this.leases.expired(now);
  }

  /** Remaining TTLs to propose as a `lease-checkpoint` command. */
  leaseCheckpoints(now: number): { id: number; remainingMs: number }[] {
    return this.leases.checkpoints(now);
  }

  /** Call on becoming leader: deadline = now + last checkpointed remaining TTL (full TTL if none). */
  promote(now: number): void {
    this.leases.promote(now);
  }

  /** A lease's TTL; its keys only for a caller who may read every one of them (CVE-2023-32082). */
  timeToLive(id: number, now: number, options: { keys?: boolean } = {}, caller: KvCaller = SERVER): LeaseInfo {
    if (caller.kind !== 'server') this.auth.checkUser(caller);
    const l = this.leases.mustGet(id);
    if (options.keys === true) checkLeaseKeys(this.auth, caller, id, l.keys);
    const remainingMs = Math.max(0, l.deadline - now);
    if (options.keys !== true) return { id, ttlMs: l.ttlMs, remainingMs };
    return { id, ttlMs: l.ttlMs, remainingMs, keys: [...l.keys].sort().map((k) => this.store.get(k)!.key) };
  }

  leaseIds(): number[] {
    return this.leases.all().map((l) => l.id);
  }

  /**
   * A read served locally (serializable; linearizable once the caller has done a ReadIndex),
   * checked for `caller` against the auth state applied now.
   */
  read(op: Omit<RangeOp, 'type'>, caller: KvCaller = SERVER): ApplyOutcome {
    if (caller.kind === 'server') return this.apply({ type: 'range', ...op });
    let cmd: KvCommand;
    try {
      cmd = validateCommand({ type: 'range', ...op }, this.limits);
      this.authorize(caller, cmd);
    } catch (err) {
      return { ok: false, error: ParleyError.from(err) };
    }
    return this.apply(cmd);
  }

  // ---- snapshots ----

  snapshot(): Uint8Array {
    return encodeSnapshot(this.snapshotSource());
  }

  /**
   * The same snapshot, of the state as it is now, encoded in slices by `step()` (see
   * SnapshotEncoder): applying more commands meanwhile does not change it.
   */
  beginSnapshot(): SnapshotEncoder {
    return new SnapshotEncoder(this.snapshotSource());
  }

  private snapshotSource(): SnapshotSource {
    return {
      appliedIndex: this.appliedIndex,
      store: this.store,
      leases: this.leases,
      dedup: this.dedup.dump(),
      auth: this.auth.dump(),
    };
  }

  restore(snapshot: Uint8Array): void {
    const s = decodeSnapshot(snapshot);
    this.appliedIndex = s.appliedIndex;
    this.store.load(s.revision, s.compactRevision, s.keys);
    this.leases.clear();
    for (const l of s.leases) this.leases.set(l);
    this.leases.nextId = s.nextLeaseId;
    this.dedup = new DedupTable(this.limits.dedupPerClient, this.limits.dedupClients);
    this.dedup.load(s.dedup);
    this.auth.load(s.auth);
    // A member catching up by snapshot may jump over a revocation: its watchers are checked again.
    this.watches.endDisallowed((caller, range) => this.auth.checkRange(caller, range, 'read'));
  }
}

const SERVER: KvCaller = { kind: 'server' };

/** The caller a stamp names: null = a caller no authentication vouched for. */
function callerOf(stamp: AuthStamp): KvCaller {
  return stamp.user === null
    ? { kind: 'user', name: '(unauthenticated)', authenticated: false }
    : { kind: 'user', name: stamp.user, authenticated: true };
}
