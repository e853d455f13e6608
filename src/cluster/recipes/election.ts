import type { KeyValue, KvEvent } from '../../kv/types.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { LeaseKeeper } from '../client/lease-keeper.js';
import type { Bytes } from '../contract.js';
import { enqueue, hex, leaveQueue, waitTurn } from './key-queue.js';
import type { RecipeClient } from './recipe-client.js';

export const ELECTION_PREFIX = '/parley/election/';

/**
 * Leader election on a key prefix (etcd's recipe): candidates create keys under their lease;
 * the leader is the key with the smallest createRevision. Resigning or losing the lease
 * deletes the key, and the next candidate leads.
 */
export class Election {
  private readonly prefix: string;
  private mine: { key: string; revision: number; lease: number; keeper: LeaseKeeper } | null = null;

  constructor(
    private readonly kv: RecipeClient,
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
    await leaveQueue(this.kv, m.lease);
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
