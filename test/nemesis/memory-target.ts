/**
 * An in-process KvTarget over one KvStateMachine, with bugs that can be planted on purpose. It
 * exists to test the nemesis harness itself: a correct store must pass every check, and each
 * planted bug must be caught. Each operation yields to the event loop before and after it runs,
 * so the clients' operations overlap as they do over a network.
 */
import { KvStateMachine } from '../../src/kv/index.js';
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

export interface PlantedBugs {
  /** Every n-th get answers from the state as of a few revisions ago (a stale read). */
  readonly staleReadEvery?: number;
  /** Every n-th revision is left out of watch deliveries (a gap). */
  readonly skipWatchRevisionEvery?: number;
  /** Every n-th revision is delivered twice to watchers (a duplicate). */
  readonly repeatWatchRevisionEvery?: number;
}

export class MemoryTarget implements KvTarget {
  private readonly sm = new KvStateMachine();
  private readonly watchers = new Set<(events: readonly WatchedEvent[]) => void>();
  private gets = 0;

  constructor(
    private readonly bugs: PlantedBugs = {},
    private readonly random: () => number = Math.random,
  ) {}

  async run(input: KvInput): Promise<KvOutput> {
    await this.jitter();
    const output = this.apply(input);
    await this.jitter();
    return output;
  }

  watchAll(startRevision: number, onEvents: (events: readonly WatchedEvent[]) => void): WatchHandle {
    if (startRevision !== 1) throw new Error('MemoryTarget watches from revision 1 only');
    this.watchers.add(onEvents);
    let close: (e: Error | null) => void = () => {};
    const closed = new Promise<Error | null>((resolve) => {
      close = resolve;
    });
    return {
      cancel: () => {
        this.watchers.delete(onEvents);
        close(null);
      },
      closed,
    };
  }

  async readAll(): Promise<{ kvs: ReadonlyMap<string, KeyState>; revision: number }> {
    const out = this.sm.apply({ type: 'range', range: { prefix: '' } });
    if (!out.ok || out.result.type !== 'range') throw new Error('range failed');
    const kvs = new Map<string, KeyState>();
    for (const kv of out.result.kvs) kvs.set(text(kv.key), { value: text(kv.value), modRevision: kv.modRevision });
    return { kvs, revision: out.result.revision };
  }

  async close(): Promise<void> {}

  private apply(input: KvInput): KvOutput {
    const before = this.sm.apply({ type: 'range', range: { prefix: '' } });
    const revisionBefore = before.ok ? (before.result as { revision: number }).revision : 0;
    let output: KvOutput;
    switch (input.op) {
      case 'get': {
        const stale = this.bugs.staleReadEvery !== undefined && ++this.gets % this.bugs.staleReadEvery === 0;
        const revision = stale ? Math.max(1, revisionBefore - 3) : 0;
        const r = this.result(this.sm.apply({ type: 'range', range: { key: input.key }, options: { revision } }));
        if (r.type !== 'range') throw new Error('unexpected result');
        const first = r.kvs[0];
        return { op: 'get', value: first === undefined ? null : text(first.value), revision: r.revision };
      }
      case 'put': {
        const r = this.result(this.sm.apply({ type: 'put', key: input.key, value: input.value }));
        output = { op: 'put', revision: (r as { revision: number }).revision };
        break;
      }
      case 'delete': {
        const r = this.result(this.sm.apply({ type: 'delete', range: { key: input.key } }));
        if (r.type !== 'delete') throw new Error('unexpected result');
        output = { op: 'delete', deleted: r.deleted, revision: r.revision };
        break;
      }
      default: {
        const request = txnRequestOf(input);
        const r = this.result(
          this.sm.apply({
            type: 'txn',
            compare: request.compare,
            success: request.success.map((o) => (o.type === 'range' ? { type: 'range', range: { key: o.range } } : o)),
            failure: request.failure.map((o) => (o.type === 'range' ? { type: 'range', range: { key: o.range } } : o)),
          }),
        );
        if (r.type !== 'txn') throw new Error('unexpected result');
        output = txnOutputOf(input, {
          succeeded: r.succeeded,
          responses: r.responses as unknown as OpResponse[],
          revision: r.revision,
        });
      }
    }
    const revisionAfter = (output as { revision: number }).revision;
    if (revisionAfter !== revisionBefore) this.publish(revisionAfter);
    return output;
  }

  /** Delivers the events of `revision` to every watcher, applying the planted watch bugs. */
  private publish(revision: number): void {
    const r = this.result(this.sm.apply({ type: 'range', range: { prefix: '' }, options: { revision } }));
    const before = this.result(
      this.sm.apply({ type: 'range', range: { prefix: '' }, options: { revision: revision - 1 } }),
    );
    if (r.type !== 'range' || before.type !== 'range') return;
    const events: WatchedEvent[] = [];
    const now = new Map(r.kvs.map((kv) => [text(kv.key), kv]));
    for (const kv of r.kvs) {
      if (kv.modRevision === revision) {
        events.push({ type: 'PUT', key: text(kv.key), value: text(kv.value), modRevision: revision });
      }
    }
    for (const kv of before.kvs) {
      if (!now.has(text(kv.key))) events.push({ type: 'DELETE', key: text(kv.key), value: '', modRevision: revision });
    }
    const skip = this.bugs.skipWatchRevisionEvery;
    if (skip !== undefined && revision % skip === 0) return;
    const repeat = this.bugs.repeatWatchRevisionEvery;
    for (const w of this.watchers) {
      w(events);
      if (repeat !== undefined && revision % repeat === 0) w(events);
    }
  }

  private result(outcome: ReturnType<KvStateMachine['apply']>) {
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  private async jitter(): Promise<void> {
    const turns = Math.floor(this.random() * 3);
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  }
}
