import { randomBytes } from 'node:crypto';
import { sleep } from '../../base/abort.js';
import { exponentialBackoff } from '../../base/backoff.js';
import { type Timer, wallTimer } from '../../base/clock.js';
import type { Random } from '../../base/random.js';
import type { KeyRangeSpec, KeyValue, LeaseInfo, RangeResult } from '../../kv/types.js';
import { createNode, type ParleyNode } from '../../node/node.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { Bytes, KvAction, KvParams, KvReply, MemberStatus, RetryId, TxnOpWire } from '../contract.js';
import { Election } from '../recipes/election.js';
import { type Lock, lock } from '../recipes/lock.js';
import { DedupLanes } from './dedup-lanes.js';
import { type KvAuthApi, kvAuthApi } from './kv-auth-api.js';
import { KvWatch, type WatchHost, type WatchOptions } from './kv-watch.js';
import { LeaseKeeper } from './lease-keeper.js';
import type {
  ConnectKvOptions,
  DeleteOptions,
  DeleteResult,
  ElectionOptions,
  GetOptions,
  KvClientOptions,
  LeaseGrantResult,
  LockOptions,
  MembershipResult,
  PutOptions,
  PutResult,
  RangeArg,
  ReadOptions,
  TxnOpArg,
  TxnRequest,
  TxnResult,
} from './request-types.js';

/**
 * How an operation may be retried after an unknown outcome (see docs/KV.md, "What the client
 * retries") and where it is sent: 'read' and 'write' to the leader; 'linearizable' (a
 * linearizable range, served by any member through ReadIndex) to the leader, spread over the
 * followers when many are in flight (pickReader);
 * 'any-member' (serializable reads, watches) to the leader when known, else anywhere.
 */
type Kind = 'read' | 'write' | 'linearizable' | 'any-member';

/** The actions that carry a retry identity. */
type WriteAction = {
  [A in KvAction]: KvParams<A> extends RetryId ? A : never;
}[KvAction];

const utf8 = new TextDecoder();

/** How long every member may say "no leader" before an operation fails (an election takes 0.5–1 s). */
const DEFAULT_NO_LEADER_MS = 3000;

/** Linearizable reads in flight on the leader before this client sends more to followers. */
const LEADER_READS_BEFORE_SPREADING = 8;

/** One attempt gets at most a quarter of the budget (≥ 1 s), so a hung member leaves time to fail over. */
function attemptMs(budgetMs: number): number {
  return Math.max(1000, Math.floor(budgetMs / 4));
}

/**
 * The KV client: etcd-v3-like operations over any node that can reach the servers. It keeps a
 * leader hint, follows `not-leader` redirects, and retries within `timeoutMs` whatever is safe
 * (reads; writes carry a (clientId, seq) the state machine deduplicates, so they apply at most
 * once). Leases are kept alive in the background; watches resume across failovers.
 */
export class KvClient {
  readonly lease: {
    grant(ttlMs: number, opts?: { id?: number }): Promise<LeaseGrantResult>;
    keepAlive(id: number): LeaseKeeper;
    revoke(id: number): Promise<void>;
    timeToLive(id: number, opts?: { keys?: boolean }): Promise<LeaseInfo>;
  };
  /** KV roles: users, roles, permissions, and turning checks on and off (see kv-auth-api.ts). */
  readonly auth: KvAuthApi;
  private leaderHint: string | null = null;
  private readonly lanes: DedupLanes;
  private readonly timer: Timer;
  private readonly random: Random;
  private readonly timeoutMs: number;
  private readonly noLeaderMs: number;
  private readonly keepers = new Set<LeaseKeeper>();
  private readonly watches = new Set<KvWatch>();
  /** Linearizable reads this client has in flight, per member. */
  private readonly readsInFlight = new Map<string, number>();
  /** Members that answered 'member-removed': never picked again. */
  private readonly removedMembers = new Set<string>();
  private isClosed = false;

  constructor(
    readonly node: ParleyNode,
    options: KvClientOptions & { ownsNode?: boolean } = {},
  ) {
    this.timer = options.timer ?? wallTimer;
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.noLeaderMs = Math.min(options.noLeaderMs ?? DEFAULT_NO_LEADER_MS, this.timeoutMs);
    this.ownsNode = options.ownsNode === true;
    this.lanes = new DedupLanes(`${node.id}-${randomBytes(4).toString('hex')}`);
    this.lease = {
      grant: async (ttlMs, opts = {}) => {
        const r = await this.write('$kv.leaseGrant', { ttlMs, id: opts.id });
        return { id: r.id, ttlMs: r.ttlMs };
      },
      keepAlive: (id) => {
        const k = new LeaseKeeper(
          id,
          (lid) => this.request('$kv.leaseKeepAlive', { id: lid }, 'read'),
          () => this.keepers.delete(k),
          this.timer,
        );
        this.keepers.add(k);
        return k;
      },
      revoke: async (id) => {
        for (const k of this.keepers) if (k.id === id) k.stop();
        // NOT_FOUND: no such lease (never granted, expired or revoked before). A retried attempt
        // of this revoke is answered from the dedup table, so it does not turn into NOT_FOUND.
        await this.write('$kv.leaseRevoke', { id });
      },
      timeToLive: (id, opts = {}) => this.request('$kv.leaseTimeToLive', { id, keys: opts.keys === true }, 'read'),
    };
    this.auth = kvAuthApi({
      write: (action, params) => this.write(action, params),
      read: (action, params) => this.request(action, params, 'linearizable'),
    });
  }

  private readonly ownsNode: boolean;

  get closed(): boolean {
    return this.isClosed;
  }

  async get(key: Bytes, opts: GetOptions = {}): Promise<KeyValue | undefined> {
    const r = await this.range({ key }, { revision: opts.revision, serializable: opts.serializable });
    return r.kvs[0];
  }

  /** The value of `key` decoded as UTF-8 (for values written as strings); undefined when absent. */
  async getString(key: Bytes, opts: GetOptions = {}): Promise<string | undefined> {
    const kv = await this.get(key, opts);
    return kv === undefined ? undefined : utf8.decode(kv.value);
  }

  range(range: RangeArg, opts: ReadOptions = {}): Promise<RangeResult> {
    const { serializable, ...options } = opts;
    return this.request(
      '$kv.range',
      { range: rangeSpec(range), options, serializable: serializable === true },
      serializable === true ? 'any-member' : 'linearizable',
    );
  }

  put(key: Bytes, value: Bytes, opts: PutOptions = {}): Promise<PutResult> {
    return this.write('$kv.put', { key, value, ...opts });
  }

  delete(range: RangeArg, opts: DeleteOptions = {}): Promise<DeleteResult> {
    return this.write('$kv.delete', { range: rangeSpec(range), ...opts });
  }

  txn(t: TxnRequest): Promise<TxnResult> {
    const ops = (list: readonly TxnOpArg[] | undefined): TxnOpWire[] =>
      (list ?? []).map((o) => (o.type === 'put' ? o : { ...o, range: rangeSpec(o.range) }));
    return this.write('$kv.txn', { compare: t.compare ?? [], success: ops(t.success), failure: ops(t.failure) });
  }

  async compact(revision: number): Promise<{ revision: number }> {
    const r = await this.write('$kv.compact', { revision });
    return { revision: r.revision };
  }

  watch(range: RangeArg, opts: WatchOptions = {}): KvWatch {
    const client = this;
    const host: WatchHost = {
      callMember: (action, params, timeoutMs) =>
        this.callOnce(action, params, this.pickMember('any-member'), timeoutMs),
      // The watched range itself: a caller allowed to watch it may read it (KV roles).
      currentRevision: async () => (await this.range(range, { countOnly: true })).revision,
      timer: this.timer,
      get closed() {
        return client.isClosed;
      },
    };
    const w = new KvWatch(host, rangeSpec(range), opts);
    this.watches.add(w);
    void w.closed.then(() => this.watches.delete(w));
    return w;
  }

  lock(name: string, opts: LockOptions = {}): Promise<Lock> {
    return lock(this, name, opts);
  }

  election(name: string, opts: ElectionOptions = {}): Election {
    return new Election(this, name, opts);
  }

  /** The leader's view of the cluster (`$cluster.status` on the leader; a member's own view when no leader answers). */
  async status(): Promise<MemberStatus> {
    const first = await this.request('$cluster.status', {}, 'read');
    if (first.role === 'leader' || first.leader === null) return first;
    return this.cluster.memberStatus(first.leader).catch(() => first);
  }

  /** Waits (up to `ms`) until this client's node is connected to node `id`. */
  private async connectedTo(id: string, ms: number): Promise<boolean> {
    const end = this.timer.now() + ms;
    while (!this.node.nodes().some((n) => n.id === id && n.connected)) {
      if (this.timer.now() > end) return false;
      await sleep(20, undefined, this.timer);
    }
    return true;
  }

  /**
   * Membership changes, run on the leader; each resolves with the voters once the change is
   * applied there. Retrying after an unknown outcome is safe: adding a voter twice or removing
   * an absent one changes nothing.
   */
  readonly cluster = {
    add: (id: string, address: string): Promise<MembershipResult> =>
      this.request('$cluster.add', { id, address }, 'read'),
    remove: (id: string): Promise<MembershipResult> => this.request('$cluster.remove', { id }, 'read'),
    /** Asks the leader to hand leadership to `to` (best effort: check status afterwards). */
    transferLeader: (to: string): Promise<{ requested: string }> =>
      this.request('$cluster.transferLeader', { to }, 'read'),
    /** One member's own view (`$cluster.status` on that member). */
    memberStatus: async (id: string): Promise<MemberStatus> => {
      await this.connectedTo(id, Math.min(this.timeoutMs, 3000));
      return this.callOnce('$cluster.status', {}, id, this.timeoutMs);
    },
  };

  /** Same as `stop()`. */
  close(): Promise<void> {
    return this.stop();
  }

  /** Stops keep-alives and watches (leases are left to expire); stops the node if connectKv created it. */
  async stop(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const k of [...this.keepers]) k.stop();
    for (const w of [...this.watches]) w.cancel();
    if (this.ownsNode) await this.node.stop();
  }

  // ---- requests ----

  /** A write: one dedup lane for all its attempts, so it is applied at most once. */
  private async write<A extends WriteAction>(action: A, params: Omit<KvParams<A>, keyof RetryId>): Promise<KvReply<A>> {
    const lane = this.lanes.acquire();
    try {
      const withId = { ...params, clientId: lane.id, seq: lane.seq } as KvParams<A>;
      return await this.request(action, withId, 'write');
    } finally {
      this.lanes.release(lane);
    }
  }

  /**
   * Calls a `$kv`/`$cluster` action until it succeeds, a deterministic error comes back, or the
   * budget runs out. Every kind retried here is safe to retry: reads, and writes carrying their
   * dedup lane.
   */
  private async request<A extends KvAction>(action: A, params: KvParams<A>, kind: Kind): Promise<KvReply<A>> {
    if (this.isClosed) throw new ParleyError('CANCELLED', 'the KV client is closed');
    const deadline = this.timer.now() + this.timeoutMs;
    let last: ParleyError | null = null;
    /** Some attempt ended without telling whether it was applied (lost connection, timeout). */
    let maybeApplied = false;
    /** Since when every answer has been "no leader known" (null: a leader was named since). */
    let noLeaderSince: number | null = null;
    /** Times the auth state changed under this request (the member already retried each). */
    let authChanges = 0;
    for (let attempt = 0; ; attempt++) {
      if (this.isClosed)
        throw new ParleyError('CANCELLED', 'the KV client was closed during the request', { cause: last });
      const remaining = deadline - this.timer.now();
      if (remaining <= 0) throw this.gaveUp(action, last, kind === 'write' && maybeApplied);
      const target = this.pickMember(kind);
      if (target === null) {
        last = new ParleyError('UNAVAILABLE', 'no KV server is connected yet');
        await this.pause(remaining, attempt);
        continue;
      }
      try {
        const budget = Math.min(remaining, attemptMs(this.timeoutMs));
        if (kind !== 'linearizable') return await this.callOnce(action, params, target, budget);
        this.readsInFlight.set(target, (this.readsInFlight.get(target) ?? 0) + 1);
        try {
          return await this.callOnce(action, params, target, budget);
        } finally {
          const n = (this.readsInFlight.get(target) ?? 1) - 1;
          if (n <= 0) this.readsInFlight.delete(target);
          else this.readsInFlight.set(target, n);
        }
      } catch (err) {
        const e = ParleyError.from(err);
        last = e;
        const details = (e.details ?? {}) as { reason?: string; leader?: string | null };
        if (details.reason === 'member-removed') {
          // That member left the cluster for good: never pick it again.
          this.removedMembers.add(target);
          if (this.leaderHint === target) this.leaderHint = null;
          continue;
        }
        if (details.reason === 'not-leader') {
          if (typeof details.leader === 'string') noLeaderSince = null;
          else {
            noLeaderSince ??= this.timer.now();
            if (this.timer.now() - noLeaderSince >= this.noLeaderMs) throw noLeader(action, e, this.noLeaderMs);
          }
          this.leaderHint = typeof details.leader === 'string' && details.leader !== target ? details.leader : null;
          // No leader yet, or one this client is not connected to (yet): back off instead of spinning.
          if (this.leaderHint === null || !this.isConnectedServer(this.leaderHint)) {
            await this.pause(remaining, attempt);
          }
          continue;
        }
        if (details.reason === 'auth-revision-changed' && ++authChanges <= AUTH_RETRIES) {
          // Not applied: permissions changed while it was in flight. It is checked again.
          continue;
        }
        if (e.code === 'UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED' || e.code === 'CANCELLED') {
          // Lost connection, dropped or interrupted proposal, slow member: the outcome may be
          // unknown, which every kind sent here tolerates (see the method comment). A proposal
          // the leader refused was not applied.
          if (details.reason !== 'proposal-dropped') maybeApplied = true;
          if (this.leaderHint === target) this.leaderHint = null;
          await this.pause(remaining, attempt);
          continue;
        }
        throw e;
      }
    }
  }

  /** One attempt on one member. (The node is untyped: the contract gives the result its type.) */
  /** Waits before the next attempt (at most what is left of the budget). */
  private pause(remaining: number, attempt: number): Promise<void> {
    return sleep(Math.min(remaining, RETRY_BACKOFF.delayMs(attempt + 1, this.random)), undefined, this.timer);
  }

  private callOnce<A extends KvAction>(
    action: A,
    params: KvParams<A>,
    target: string | null,
    timeoutMs: number,
  ): Promise<KvReply<A>> {
    if (target === null) return Promise.reject(new ParleyError('UNAVAILABLE', 'no KV server is connected yet'));
    return this.node.call(action, params, { nodeId: target, timeout: timeoutMs });
  }

  private connectedServers(): string[] {
    return this.node
      .nodes()
      .filter((n) => n.connected && !this.removedMembers.has(n.id) && n.services.some((s) => s.name === '$kv'))
      .map((n) => n.id);
  }

  private isConnectedServer(id: string): boolean {
    return this.connectedServers().includes(id);
  }

  /**
   * Linearizable reads: see pickReader. Everything else: the leader hint when it is connected; otherwise a random connected member (which answers or redirects). Serializable
   * reads and watches may be served by any member, but the leader is preferred: it is the most
   * up to date.
   */
  private pickMember(kind: Kind): string | null {
    const servers = this.connectedServers();
    if (servers.length === 0) return null;
    if (kind === 'linearizable') return this.pickReader(servers);
    if (this.leaderHint !== null && servers.includes(this.leaderHint)) return this.leaderHint;
    return servers[Math.floor(this.random() * servers.length)]!;
  }

  /**
   * Where a linearizable read goes: the leader while it has fewer than LEADER_READS_BEFORE_SPREADING
   * of this client's reads in flight (a follower read costs one more round trip, to the leader),
   * beyond that the member with the fewest in flight: under load, reads spread over every member.
   */
  private pickReader(servers: readonly string[]): string {
    const load = (id: string) => this.readsInFlight.get(id) ?? 0;
    const lead = this.leaderHint !== null && servers.includes(this.leaderHint) ? this.leaderHint : null;
    if (lead !== null && load(lead) < LEADER_READS_BEFORE_SPREADING) return lead;
    let best = lead ?? servers[0]!;
    for (const id of servers) if (load(id) < load(best)) best = id;
    return best;
  }

  private gaveUp(action: string, last: ParleyError | null, maybeApplied: boolean): ParleyError {
    const code = last?.code === 'DEADLINE_EXCEEDED' ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE';
    return new ParleyError(
      code,
      `${action} did not complete within ${this.timeoutMs} ms (${last?.message ?? 'no answer'})` +
        (maybeApplied ? '; it may have been applied (at most once)' : ''),
      { details: { outcome: maybeApplied ? 'unknown' : 'not-applied' }, cause: last ?? undefined },
    );
  }
}

/** UNAVAILABLE 'no leader': every member asked for `ms` knew no leader; nothing was applied. */
function noLeader(action: string, last: ParleyError, ms: number): ParleyError {
  return new ParleyError(
    'UNAVAILABLE',
    `no leader: for ${ms} ms no member knew a leader (${last.message}); ${action} was not applied. ` +
      'A majority of the members must be running and reach each other: check `parley cluster status`',
    { details: { reason: 'no-leader', outcome: 'not-applied' }, cause: last },
  );
}

function rangeSpec(range: RangeArg): KeyRangeSpec<Bytes> {
  return typeof range === 'string' || range instanceof Uint8Array ? { key: range } : range;
}

/** Retries of a request refused because the permissions changed while it was in flight. */
const AUTH_RETRIES = 3;

/** Between attempts: 20 ms doubling up to 500 ms, full jitter (base/backoff.ts). */
const RETRY_BACKOFF = exponentialBackoff({ initialMs: 20, maxMs: 500 });

const clients = new WeakMap<ParleyNode, KvClient>();

/** The KV client of a node that can reach the servers (one per node). */
export function kvFor(node: ParleyNode, options: KvClientOptions = {}): KvClient {
  let c = clients.get(node);
  if (c === undefined || c.closed) {
    c = new KvClient(node, options);
    clients.set(node, c);
  }
  return c;
}

/** A standalone client: a node that does not listen and joins through `servers`. */
export async function connectKv(options: ConnectKvOptions): Promise<KvClient> {
  if (!Array.isArray(options.servers) || options.servers.length === 0) {
    throw new ParleyError('INVALID_ARGUMENT', 'connectKv needs servers: ["host:port", ...]');
  }
  const node = createNode({
    id: options.id ?? `kv-${process.pid}-${randomBytes(3).toString('hex')}`,
    port: null,
    seeds: options.servers,
    logger: options.logger ?? 'silent',
    gossipInterval: 500,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  await node.start();
  return new KvClient(node, { timeoutMs: options.timeoutMs, ownsNode: true });
}
