/**
 * The KvTarget of the real thing: Parley's KV client (`connectKv`, docs/KV.md "Client") talking
 * to `parley server` processes. Every workload client gets its own KvClient (its own node and
 * connections), so the clients fail over independently.
 */
import { connectKv, type KvClient } from '../../src/cluster/client/kv-client.js';
import type { KvInput, KvOutput } from '../support/linearizability/index.js';
import {
  type KeyState,
  type KvTarget,
  type OpResponse,
  text,
  txnOutputOf,
  txnRequestOf,
  type WatchedEvent,
  type WatchHandle,
} from './target.js';

/** The KV client of docs/KV.md; every workload client gets its own (its own node and connections). */
export type KvClientLike = KvClient;

export { connectKv };

export class KvClientTarget implements KvTarget {
  constructor(readonly client: KvClientLike) {}

  async run(input: KvInput): Promise<KvOutput> {
    switch (input.op) {
      case 'get': {
        const r = await this.client.range(input.key);
        const first = r.kvs[0];
        return { op: 'get', value: first === undefined ? null : text(first.value), revision: r.revision };
      }
      case 'put':
        return { op: 'put', revision: (await this.client.put(input.key, input.value)).revision };
      case 'delete': {
        const r = await this.client.delete(input.key);
        return { op: 'delete', deleted: r.deleted, revision: r.revision };
      }
      default: {
        const r = await this.client.txn(txnRequestOf(input));
        return txnOutputOf(input, {
          succeeded: r.succeeded,
          responses: r.responses as unknown as OpResponse[],
          revision: r.revision,
        });
      }
    }
  }

  watchAll(startRevision: number, onEvents: (events: readonly WatchedEvent[]) => void): WatchHandle {
    const watch = this.client.watch({ prefix: '' }, { startRevision });
    watch.on((events) => {
      onEvents(
        events.map((ev) => ({
          type: ev.type,
          key: text(ev.kv.key),
          value: ev.type === 'PUT' ? text(ev.kv.value) : '',
          modRevision: ev.kv.modRevision,
        })),
      );
    });
    return { cancel: () => watch.cancel(), closed: watch.closed };
  }

  async readAll(): Promise<{ kvs: ReadonlyMap<string, KeyState>; revision: number }> {
    const r = await this.client.range({ prefix: '' });
    const kvs = new Map<string, KeyState>();
    for (const kv of r.kvs) kvs.set(text(kv.key), { value: text(kv.value), modRevision: kv.modRevision });
    return { kvs, revision: r.revision };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
