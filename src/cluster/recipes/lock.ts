import type { ParleyError } from '../../wire/parley-error.js';
import { enqueue, hex, leaveQueue, waitTurn } from './key-queue.js';
import type { RecipeClient } from './recipe-client.js';

export const LOCK_PREFIX = '/parley/lock/';

export interface Lock {
  readonly key: Uint8Array;
  /** The lock key's createRevision: a fencing token, larger for every later acquisition. */
  readonly revision: number;
  readonly lease: number;
  /** Resolves if the lease is lost while the lock is held: stop using the resource. */
  readonly lost: Promise<ParleyError>;
  unlock(): Promise<void>;
}

export async function lock(
  kv: RecipeClient,
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
        await leaveQueue(kv, id);
      },
    };
  } catch (err) {
    keeper.stop();
    await kv.lease.revoke(id).catch(() => {});
    throw err;
  }
}
