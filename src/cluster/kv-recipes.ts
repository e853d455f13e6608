import type { KeyValue, KvEvent } from '../kv/types.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Bytes, KvClient } from './kv-client.js';

export const LOCK_PREFIX = '/parley/lock/';
export const ELECTION_PREFIX = '/parley/election/';

/**
 * Keeps a lease alive in the background: a keep-alive every ttl/3 (the first at once). `lost`
 * resolves when the lease is gone (expired or revoked: NOT_FOUND) — whoever relied on it must
 * stop acting on its behalf. Transient failures are retried at the next tick.
 */
export class LeaseKeeper {
  /** Resolves with the error once the lease is known to be gone; never rejects. */
  readonly lost: Promise<ParleyError>;
  private resolveLost!: (err: ParleyError) => void;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly keepAlive: (id: number) => Promise<unknown>,
    private readonly onStop: () => void,
  ) {
    this.lost = new Promise((resolve) => {
      this.resolveLost = resolve;
    });
    void this.beat();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.onStop();
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    let ttlMs = 3000;
    try {
      const r = (await this.keepAlive(this.id)) as { ttlMs: number };
      ttlMs = r.ttlMs;
    } catch (err) {
      if (ParleyError.is(err, 'NOT_FOUND')) {
        this.resolveLost(ParleyError.from(err));
        this.stop();
        return;
      }
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.beat(), Math.max(50, Math.floor(ttlMs / 3)));
  }
}

export interface Lock {
  readonly key: Uint8Array;
  /** The lock key's createRevision: a fencing token, larger for every later acquisition. */
  readonly revision: number;
  readonly lease: number;
  /** Resolves if the lease is lost while the lock is held: stop using the resource. */
  readonly lost: Promise<ParleyError>;
  unlock(): Promise<void>;
}

const hex = (n: number) => n.toString(16);

/**
 * Creates `<prefix><lease hex>` under `lease` unless it exists; returns its createRevision.
 * Idempotent: a retried attempt finds the key it already created.
 */
async function enqueue(kv: KvClient, key: string, value: Bytes, lease: number): Promise<number> {
  const r = await kv.txn({
    compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
    success: [{ type: 'put', key, value, lease }],
    failure: [{ type: 'range', range: { key } }],
  });
  if (r.succeeded) return r.revision;
  const got = r.responses[0];
  if (got?.type !== 'range' || got.kvs.length === 0) throw new ParleyError('ABORTED', `key ${key} vanished; retry`);
  return got.kvs[0]!.createRevision;
}

/**
 * Waits until no key under `prefix` has a createRevision below `mine`: each time, it watches the
 * closest predecessor until it is deleted (no herd: each waiter watches one key).
 */
async function waitTurn(kv: KvClient, prefix: string, mine: number, signal?: AbortSignal): Promise<void> {
  while (true) {
    if (signal?.aborted) throw ParleyError.from(signal.reason ?? new ParleyError('CANCELLED', 'lock wait aborted'));
    const r = await kv.range({ prefix }, { sort: { target: 'createRevision', order: 'ascend' } });
    const before = r.kvs.filter((k) => k.createRevision < mine);
    if (before.length === 0) return;
    const pred = before[before.length - 1]!;
    const w = kv.watch({ key: pred.key }, { startRevision: r.revision + 1, noPut: true });
    try {
      await new Promise<void>((resolve, reject) => {
        w.on(() => resolve());
        void w.closed.then((err) => (err ? reject(err) : resolve()));
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      w.cancel();
    }
  }
}

export async function lock(
  kv: KvClient,
  name: string,
  opts: { ttlMs?: number; signal?: AbortSignal } = {},
): Promise<Lock> {
  const { id } = await kv.lease.grant(opts.ttlMs ?? 10_000);
  const keeper = kv.lease.keepAlive(id);
  const prefix = `${LOCK_PREFIX}${name}/`;
  const key = `${prefix}${hex(id)}`;
  try {
    const revision = await enqueue(kv, key, '', id);
    await waitTurn(kv, prefix, revision, opts.signal);
    return {
      key: new TextEncoder().encode(key),
      revision,
      lease: id,
      lost: keeper.lost,
      unlock: async () => {
        keeper.stop();
        await kv.lease.revoke(id);
      },
    };
  } catch (err) {
    keeper.stop();
    await kv.lease.revoke(id).catch(() => {});
    throw err;
  }
}

/**
 * Leader election on a key prefix (etcd's recipe): candidates create keys under their lease;
 * the leader is the key with the smallest createRevision. Resigning or losing the lease
 * deletes the key, and the next candidate leads.
 */
export class Election {
  private readonly prefix: string;
  private mine: { key: string; revision: number; lease: number; keeper: LeaseKeeper } | null = null;

  constructor(
    private readonly kv: KvClient,
    readonly name: string,
    private readonly opts: { ttlMs?: number } = {},
  ) {
    this.prefix = `${ELECTION_PREFIX}${name}/`;
  }

  /** Resolves once this client leads; `revision` (the key's createRevision) fences its term. */
  async campaign(value: Bytes, opts: { signal?: AbortSignal } = {}): Promise<{ revision: number }> {
    if (this.mine !== null) throw new ParleyError('FAILED_PRECONDITION', 'already campaigning; resign first');
    const { id } = await this.kv.lease.grant(this.opts.ttlMs ?? 10_000);
    const keeper = this.kv.lease.keepAlive(id);
    const key = `${this.prefix}${hex(id)}`;
    try {
      const revision = await enqueue(this.kv, key, value, id);
      this.mine = { key, revision, lease: id, keeper };
      await waitTurn(this.kv, this.prefix, revision, opts.signal);
      if (opts.signal?.aborted) throw ParleyError.from(opts.signal.reason ?? new ParleyError('CANCELLED', 'aborted'));
      return { revision };
    } catch (err) {
      await this.resign().catch(() => {});
      keeper.stop();
      throw err;
    }
  }

  /** Changes the value the leader publishes; fails with FAILED_PRECONDITION unless this client still leads. */
  async proclaim(value: Bytes): Promise<void> {
    const m = this.mine;
    if (m === null) throw new ParleyError('FAILED_PRECONDITION', 'not campaigning');
    const r = await this.kv.txn({
      compare: [{ key: m.key, target: 'createRevision', op: '=', value: m.revision }],
      success: [{ type: 'put', key: m.key, value, lease: m.lease }],
    });
    if (!r.succeeded) throw new ParleyError('FAILED_PRECONDITION', 'leadership lost (the campaign key is gone)');
  }

  async resign(): Promise<void> {
    const m = this.mine;
    this.mine = null;
    if (m === null) return;
    m.keeper.stop();
    await this.kv.lease.revoke(m.lease);
  }

  /** The current leader's key and value, or undefined when nobody leads. */
  async leader(): Promise<KeyValue | undefined> {
    const r = await this.kv.range(
      { prefix: this.prefix },
      { sort: { target: 'createRevision', order: 'ascend' }, limit: 1 },
    );
    return r.kvs[0];
  }

  /** The current leader, then every change of leader or of its value. */
  async *observe(signal?: AbortSignal): AsyncIterable<KeyValue | undefined> {
    const r = await this.kv.range(
      { prefix: this.prefix },
      { sort: { target: 'createRevision', order: 'ascend' }, limit: 1 },
    );
    let current = r.kvs[0];
    yield current;
    const w = this.kv.watch({ prefix: this.prefix }, { startRevision: r.revision + 1 });
    signal?.addEventListener('abort', () => w.cancel(), { once: true });
    try {
      for await (const _ev of batches(w)) {
        const now = await this.leader();
        if (now?.modRevision !== current?.modRevision || now?.createRevision !== current?.createRevision) {
          current = now;
          yield current;
        }
      }
    } finally {
      w.cancel();
    }
  }
}

async function* batches(w: AsyncIterable<KvEvent>): AsyncIterable<KvEvent> {
  yield* w;
}
