import { randomBytes } from 'node:crypto';
import type { KeyRangeSpec, KeyValue, LeaseInfo, RangeOptions, RangeResult } from '../../kv/types.js';
import { createNode, type ParleyNode } from '../../node/node.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { MemberStatus } from '../contract.js';
import { Election } from '../recipes/election.js';
import { type Lock, lock } from '../recipes/lock.js';
import { DedupLanes } from './dedup-lanes.js';
import { KvWatch, type WatchHost, type WatchOptions } from './kv-watch.js';
import { LeaseKeeper } from './lease-keeper.js';
import type {
  Bytes,
  ConnectKvOptions,
  KvClientOptions,
  RangeArg,
  TxnOpArg,
  TxnRequest,
  TxnResult,
} from './request-types.js';

type Params = Record<string, unknown>;

/**
 * How an operation may be retried after an unknown outcome (see docs/KV.md, "What the client
 * retries") and where it is sent: 'read' and 'write' to the leader; 'linearizable' (a
 * linearizable range, served by any member through ReadIndex) to the leader, spread over the
 * followers when many are in flight (pickReader);
 * 'any-member' (serializable reads, watches) to the leader when known, else anywhere.
 */
type Kind = 'read' | 'write' | 'linearizable' | 'any-member';

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
    grant(ttlMs: number, opts?: { id?: number }): Promise<{ id: number; ttlMs: number }>;
    keepAlive(id: number): LeaseKeeper;
    revoke(id: number): Promise<void>;
    timeToLive(id: number, opts?: { keys?: boolean }): Promise<LeaseInfo>;
  };
  private leaderHint: string | null = null;
  private readonly lanes: DedupLanes;
  private readonly timeoutMs: number;
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
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.ownsNode = options.ownsNode === true;
    this.lanes = new DedupLanes(`${node.id}-${randomBytes(4).toString('hex')}`);
    this.lease = {
      grant: async (ttlMs, opts = {}) => {
        const r = (await this.write('leaseGrant', { ttlMs, id: opts.id })) as { id: number; ttlMs: number };
        return { id: r.id, ttlMs: r.ttlMs };
      },
      keepAlive: (id) => {
        const k = new LeaseKeeper(
          id,
          (lid) => this.request('leaseKeepAlive', { id: lid }, 'read'),
          () => this.keepers.delete(k),
        );
        this.keepers.add(k);
        return k;
      },
      revoke: async (id) => {
        for (const k of this.keepers) if (k.id === id) k.stop();
        try {
          await this.write('leaseRevoke', { id });
        } catch (err) {
          // NOT_FOUND after a retry means an earlier attempt revoked it (or it expired): done.
          if (!ParleyError.is(err, 'NOT_FOUND')) throw err;
        }
      },
      timeToLive: (id, opts = {}) =>
        this.request('leaseTimeToLive', { id, keys: opts.keys === true }, 'read') as Promise<LeaseInfo>,
    };
  }

  private readonly ownsNode: boolean;

  get closed(): boolean {
    return this.isClosed;
  }

  async get(key: Bytes, opts: { revision?: number; serializable?: boolean } = {}): Promise<KeyValue | undefined> {
    const r = await this.range({ key }, { revision: opts.revision, serializable: opts.serializable });
    return r.kvs[0];
  }

  range(range: RangeArg, opts: RangeOptions & { serializable?: boolean } = {}): Promise<RangeResult> {
    const { serializable, ...options } = opts;
    return this.request(
      'range',
      { range: rangeSpec(range), options, serializable: serializable === true },
      serializable === true ? 'any-member' : 'linearizable',
    ) as Promise<RangeResult>;
  }

  put(
    key: Bytes,
    value: Bytes,
    opts: { lease?: number; prevKv?: boolean; ignoreValue?: boolean; ignoreLease?: boolean } = {},
  ): Promise<{ revision: number; prevKv?: KeyValue }> {
    return this.write('put', { key, value, ...opts }) as Promise<{ revision: number; prevKv?: KeyValue }>;
  }

  delete(
    range: RangeArg,
    opts: { prevKv?: boolean } = {},
  ): Promise<{ deleted: number; revision: number; prevKvs?: KeyValue[] }> {
    return this.write('delete', { range: rangeSpec(range), ...opts }) as Promise<{
      deleted: number;
      revision: number;
      prevKvs?: KeyValue[];
    }>;
  }

  txn(t: TxnRequest): Promise<TxnResult> {
    const ops = (list: readonly TxnOpArg[] | undefined) =>
      (list ?? []).map((o) => (o.type === 'put' ? o : { ...o, range: rangeSpec(o.range) }));
    return this.write('txn', {
      compare: t.compare ?? [],
      success: ops(t.success),
      failure: ops(t.failure),
    }) as Promise<TxnResult>;
  }

  async compact(revision: number): Promise<{ revision: number }> {
    return (await this.write('compact', { revision })) as { revision: number };
  }

  watch(range: RangeArg, opts: WatchOptions = {}): KvWatch {
    const client = this;
    const host: WatchHost = {
      callMember: (action, params, timeoutMs) =>
        this.callOnce(action, params, this.pickMember('any-member'), timeoutMs),
      currentRevision: async () => (await this.range({ key: '\0' }, { countOnly: true })).revision,
      get closed() {
        return client.isClosed;
      },
    };
    const w = new KvWatch(host, rangeSpec(range), opts);
    this.watches.add(w);
    void w.closed.then(() => this.watches.delete(w));
    return w;
  }

  lock(name: string, opts: { ttlMs?: number; signal?: AbortSignal } = {}): Promise<Lock> {
    return lock(this, name, opts);
  }

  election(name: string, opts: { ttlMs?: number } = {}): Election {
    return new Election(this, name, opts);
  }

  /** The leader's view of the cluster (`$cluster.status` on the leader; a member's own view when no leader answers). */
  async status(): Promise<MemberStatus> {
    const first = (await this.request('status', {}, 'read', '$cluster')) as MemberStatus;
    if (first.role === 'leader' || first.leader === null) return first;
    return this.cluster.memberStatus(first.leader).catch(() => first);
  }

  /** Waits (up to `ms`) until this client's node is connected to node `id`. */
  private async connectedTo(id: string, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.node.nodes().some((n) => n.id === id && n.connected)) {
      if (Date.now() > end) return false;
      await sleep(20);
    }
    return true;
  }

  /**
   * Membership changes, run on the leader; each resolves with the voters once the change is
   * applied there. Retrying after an unknown outcome is safe: adding a voter twice or removing
   * an absent one changes nothing.
   */
  readonly cluster = {
    add: (id: string, address: string) =>
      this.request('add', { id, address }, 'read', '$cluster') as Promise<{ voters: string[] }>,
    remove: (id: string) => this.request('remove', { id }, 'read', '$cluster') as Promise<{ voters: string[] }>,
    /** Asks the leader to hand leadership to `to` (best effort: check status afterwards). */
    transferLeader: (to: string) => this.request('transferLeader', { to }, 'read', '$cluster'),
    /** One member's own view (`$cluster.status` on that member). */
    memberStatus: async (id: string) => {
      await this.connectedTo(id, Math.min(this.timeoutMs, 3000));
      return (await this.callOnce('status', {}, id, this.timeoutMs, '$cluster')) as MemberStatus;
    },
  };

  /** Stops keep-alives and watches (leases are left to expire); stops the node if connectKv created it. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const k of [...this.keepers]) k.stop();
    for (const w of [...this.watches]) w.cancel();
    if (this.ownsNode) await this.node.stop();
  }

  // ---- requests ----

  /** A write: one dedup lane for all its attempts, so it is applied at most once. */
  private async write(action: string, params: Params): Promise<unknown> {
    const lane = this.lanes.acquire();
    try {
      return await this.request(action, { ...params, clientId: lane.id, seq: lane.seq }, 'write');
    } finally {
      this.lanes.release(lane);
    }
  }

  /**
   * Calls `$kv.<action>` (or another service) until it succeeds, a deterministic error comes
   * back, or the budget runs out. Every kind retried here is safe to retry: reads, and writes
   * carrying their dedup lane.
   */
  async request(action: string, params: Params, kind: Kind, service = '$kv'): Promise<unknown> {
    if (this.isClosed) throw new ParleyError('CANCELLED', 'the KV client is closed');
    const deadline = Date.now() + this.timeoutMs;
    let last: ParleyError | null = null;
    let sentOnce = false;
    for (let attempt = 0; ; attempt++) {
      if (this.isClosed)
        throw new ParleyError('CANCELLED', 'the KV client was closed during the request', { cause: last });
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.gaveUp(action, last, kind === 'write' && sentOnce);
      const target = this.pickMember(kind);
      if (target === null) {
        last = new ParleyError('UNAVAILABLE', 'no KV server is connected yet');
        await sleep(Math.min(remaining, backoff(attempt)));
        continue;
      }
      try {
        sentOnce = true;
        const budget = Math.min(remaining, attemptMs(this.timeoutMs));
        if (kind !== 'linearizable') return await this.callOnce(action, params, target, budget, service);
        this.readsInFlight.set(target, (this.readsInFlight.get(target) ?? 0) + 1);
        try {
          return await this.callOnce(action, params, target, budget, service);
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
          this.leaderHint = typeof details.leader === 'string' && details.leader !== target ? details.leader : null;
          // No leader yet, or one this client is not connected to (yet): back off instead of spinning.
          if (this.leaderHint === null || !this.isConnectedServer(this.leaderHint)) {
            await sleep(Math.min(remaining, backoff(attempt)));
          }
          continue;
        }
        if (e.code === 'UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED' || e.code === 'CANCELLED') {
          // Lost connection, dropped or interrupted proposal, slow member: the outcome may be
          // unknown, which every kind sent here tolerates (see the method comment).
          if (this.leaderHint === target) this.leaderHint = null;
          await sleep(Math.min(remaining, backoff(attempt)));
          continue;
        }
        throw e;
      }
    }
  }

  private callOnce(action: string, params: object, target: string | null, timeoutMs: number, service = '$kv') {
    if (target === null) return Promise.reject(new ParleyError('UNAVAILABLE', 'no KV server is connected yet'));
    return this.node.call(`${service}.${action}`, params, { nodeId: target, timeout: timeoutMs });
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
    return servers[Math.floor(Math.random() * servers.length)]!;
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
      `$kv.${action} did not complete within ${this.timeoutMs} ms (${last?.message ?? 'no answer'})` +
        (maybeApplied ? '; it may have been applied (at most once)' : ''),
      { details: { outcome: maybeApplied ? 'unknown' : 'not-applied' }, cause: last ?? undefined },
    );
  }
}

function rangeSpec(range: RangeArg): KeyRangeSpec<Bytes> {
  return typeof range === 'string' || range instanceof Uint8Array ? { key: range } : range;
}

function backoff(attempt: number): number {
  return Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

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
  });
  await node.start();
  return new KvClient(node, { timeoutMs: options.timeoutMs, ownsNode: true });
}
