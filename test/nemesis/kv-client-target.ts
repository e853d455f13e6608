/**
 * The KvTarget of the real thing: Parley's KV client (`connectKv`, docs/KV.md "Client") talking
 * to `parley server` processes. Every workload client gets its own KvClient (its own node and
 * connections), so the clients fail over independently.
 */
import type { KvInput, KvOutput } from '../support/linearizability/index.js';
import {
  type KeyState,
  type KvTarget,
  type OpResponse,
  type TxnRequest,
  text,
  txnOutputOf,
  txnRequestOf,
  type WatchedEvent,
  type WatchHandle,
} from './target.js';

type Bytes = string | Uint8Array;

interface KeyValueLike {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly modRevision: number;
}

/** The part of the KvClient API (docs/KV.md) the nemesis uses. */
export interface KvClientLike {
  range(
    range: Bytes | { prefix: Bytes },
    opts?: { serializable?: boolean },
  ): Promise<{ kvs: KeyValueLike[]; revision: number }>;
  put(key: Bytes, value: Bytes): Promise<{ revision: number }>;
  delete(range: Bytes): Promise<{ deleted: number; revision: number }>;
  txn(t: TxnRequest): Promise<{ succeeded: boolean; responses: unknown[]; revision: number }>;
  watch(
    range: { prefix: Bytes },
    opts?: { startRevision?: number },
  ): {
    on(fn: (events: { type: 'PUT' | 'DELETE'; kv: KeyValueLike }[], revision: number) => void): void;
    readonly closed: Promise<Error | null>;
    cancel(): void;
  };
  status(): Promise<unknown>;
  close(): Promise<void>;
}

type ConnectKv = (options: { servers: string[]; timeoutMs?: number; logger?: unknown }) => Promise<KvClientLike>;

/** Loads `connectKv` from the built source tree (src/index.ts exports it once the KV client exists). */
export async function loadConnectKv(): Promise<ConnectKv> {
  const specifier = '../../src/index.js';
  const mod = (await import(specifier)) as { connectKv?: ConnectKv };
  if (typeof mod.connectKv !== 'function') {
    throw new Error('this build has no connectKv (src/index.ts): the KV client is not merged yet');
  }
  return mod.connectKv;
}

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
          responses: r.responses as OpResponse[],
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
