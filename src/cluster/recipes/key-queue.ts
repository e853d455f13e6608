import { ParleyError } from '../../wire/parley-error.js';
import type { Bytes } from '../contract.js';
import type { RecipeClient } from './recipe-client.js';

/*
 * The queue both recipes stand in: each participant creates one key under a prefix, attached to
 * its lease; the key with the smallest createRevision is first. Waiters watch only their
 * predecessor, so a release wakes one waiter, not the herd.
 */

/** A lease id as it appears in recipe keys. */
export const hex = (n: number) => n.toString(16);

/**
 * Creates `<prefix><lease hex>` under `lease` unless it exists; returns its createRevision.
 * Idempotent: a retried attempt finds the key it already created.
 */
export async function enqueue(kv: RecipeClient, key: string, value: Bytes, lease: number): Promise<number> {
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
export async function waitTurn(kv: RecipeClient, prefix: string, mine: number, signal?: AbortSignal): Promise<void> {
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

/** Revokes the lease a participant stands in the queue with; a lease already gone (expired) is fine. */
export async function leaveQueue(kv: RecipeClient, lease: number): Promise<void> {
  try {
    await kv.lease.revoke(lease);
  } catch (err) {
    if (!ParleyError.is(err, 'NOT_FOUND')) throw err;
  }
}
