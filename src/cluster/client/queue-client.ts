import { randomBytes } from 'node:crypto';
import { sleep } from '../../base/abort.js';
import { exponentialBackoff } from '../../base/backoff.js';
import { type Timer, wallTimer } from '../../base/clock.js';
import { createNode, type ParleyNode } from '../../node/node.js';
import { partitionOfKey } from '../../queue/partition-key.js';
import { subjectMatches } from '../../queue/subject.js';
import type {
  AckEntry,
  ConsumerConfig,
  ConsumerInfo,
  DeadLetter,
  MessageHeaders,
  PartitionInfo,
  StoredMessage,
  StreamConfig,
} from '../../queue/types.js';
import type { Logger, LogLevel } from '../../transport/logger.js';
import type { AuthOptions } from '../../transport/security/auth-options.js';
import type { TlsOptions } from '../../transport/tls-options.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { ErrorCode } from '../../wire/status.js';
import type { WireError } from '../queue/queue-service.js';

/**
 * The client of durable streams (docs/QUEUES.md, "Client"): create streams and consumers, publish,
 * fetch and acknowledge, over any node that reaches the `parley server` members.
 *
 * Routing: a stream's record names its partitions' Raft groups, their voters and preferred
 * leaders; each partition action goes to the member the client believes leads that group (the
 * last leader named, else the preferred leader, else each voter in turn) and follows
 * `not-leader` redirects. Stream records are written on the KV leader, found the same way.
 *
 * Invariants: an operation is retried only while that is safe: everything refused with
 * 'not-leader' (nothing was applied); a publish after an unknown outcome (lost connection,
 * timeout) only when it carries a `msgId`, which the partition deduplicates, so it is stored at
 * most once; acks are idempotent (an acked message answers NOT_FOUND, which `ack()` ignores).
 * Publishes to one partition made in the same turn of the event loop travel as one command, and
 * so do one consumer's acknowledgements on one partition.
 */

import type {
  ConnectQueuesOptions,
  ConsumeOptions,
  Consumption,
  FetchOptions,
  PartitionView,
  PublishAck,
  PublishOptions,
  QueueClientOptions,
  QueueMessage,
  StreamView,
} from './queue-types.js';

export type {
  ConnectQueuesOptions,
  ConsumeOptions,
  Consumption,
  FetchOptions,
  PartitionView,
  PublishAck,
  PublishOptions,
  QueueClientOptions,
  QueueMessage,
  StreamView,
} from './queue-types.js';

const RETRY_BACKOFF = exponentialBackoff({ initialMs: 20, maxMs: 500 });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type PublishResult = { outcomes: ({ seq: number; duplicate?: boolean } | { error: WireError })[] };

type AckOutcomeWire = { ok: true } | { error: WireError };

interface PendingAck {
  readonly entry: AckEntry;
  resolve(outcome: AckOutcomeWire): void;
  reject(err: unknown): void;
}

interface PendingPublish {
  readonly entry: Record<string, unknown>;
  readonly retryable: boolean;
  resolve(ack: { seq: number; duplicate: boolean }): void;
  reject(err: unknown): void;
}

function fromWire(e: WireError): ParleyError {
  return new ParleyError(e.code as ErrorCode, e.message, { details: e.details });
}

export class QueueClient {
  private readonly timeoutMs: number;
  private readonly timer: Timer;
  private readonly streamCache = new Map<string, StreamView>();
  private readonly leaders = new Map<string, string>();
  private kvLeader: string | null = null;
  private roundRobin = 0;
  private readonly batches = new Map<string, PendingPublish[]>();
  private readonly ackBatches = new Map<string, PendingAck[]>();
  private closed = false;

  readonly streams = {
    create: async (config: Partial<StreamConfig> & { name: string; subjects: readonly string[] }) => {
      const view = (await this.onKvLeader('$queue.createStream', { config })) as StreamView;
      this.streamCache.set(view.config.name, view);
      return view;
    },
    delete: async (name: string) => {
      await this.onKvLeader('$queue.deleteStream', { name });
      this.streamCache.delete(name);
    },
    info: async (name: string): Promise<StreamView & { partitionInfo: PartitionInfo[] }> => {
      const view = await this.refresh(name);
      const partitionInfo = await Promise.all(
        view.partitions.map((_, p) => this.onPartition(view, p, 'info', {}) as Promise<PartitionInfo>),
      );
      return { ...view, partitionInfo };
    },
    list: async (): Promise<StreamView[]> => {
      const views = (await this.onAnyServer('$queue.streams', {})) as StreamView[];
      for (const v of views) this.streamCache.set(v.config.name, v);
      return views;
    },
    deadLetters: async (name: string, partition = 0, fromSeq?: number): Promise<DeadLetter[]> => {
      const view = await this.stream(name);
      return (await this.onPartition(view, partition, 'deadLetters', { fromSeq })) as DeadLetter[];
    },
    /** Publishes dead letters `seqs` of a partition again (as new messages) and removes them from its dead-letter log. */
    replayDeadLetters: async (
      name: string,
      partition: number,
      seqs: readonly number[],
    ): Promise<({ seq: number } | { error: ParleyError })[]> => {
      const view = await this.stream(name);
      // Not retried after an unknown outcome: a replay applied twice would publish twice.
      const result = (await this.onPartition(view, partition, 'dlqReplay', { seqs }, false)) as PublishResult;
      return result.outcomes.map((o) => ('error' in o ? { error: fromWire(o.error) } : { seq: o.seq }));
    },
  };

  readonly consumers = {
    /** Creates (or finds, with the same config) the consumer on every partition of the stream. */
    create: async (stream: string, config: Partial<ConsumerConfig> & { name: string }): Promise<ConsumerInfo[]> => {
      const view = await this.stream(stream);
      const results = await Promise.all(
        view.partitions.map((_, p) => this.onPartition(view, p, 'createConsumer', { config })),
      );
      return results.map((r) => (r as { info: ConsumerInfo }).info);
    },
    delete: async (stream: string, name: string): Promise<void> => {
      const view = await this.stream(stream);
      await Promise.all(view.partitions.map((_, p) => this.onPartition(view, p, 'deleteConsumer', { name })));
    },
    info: async (stream: string, name: string): Promise<ConsumerInfo[]> => {
      const view = await this.stream(stream);
      return Promise.all(
        view.partitions.map((_, p) => this.onPartition(view, p, 'info', { consumer: name }) as Promise<ConsumerInfo>),
      );
    },
  };

  private readonly ownsNode: boolean;

  constructor(
    private readonly node: ParleyNode,
    options: QueueClientOptions & { ownsNode?: boolean } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.timer = options.timer ?? wallTimer;
    this.ownsNode = options.ownsNode === true;
  }

  /** Publishes one message; resolves once it is committed by a quorum and fsynced. */
  async publish(subject: string, payload: Uint8Array | string, options: PublishOptions = {}): Promise<PublishAck> {
    const view = options.stream !== undefined ? await this.stream(options.stream) : await this.streamFor(subject);
    const n = view.partitions.length;
    const partition = options.key !== undefined ? partitionOfKey(options.key, n) : this.roundRobin++ % n;
    const entry: Record<string, unknown> = {
      subject,
      payload: typeof payload === 'string' ? encoder.encode(payload) : payload,
    };
    if (options.key !== undefined) entry.key = options.key;
    if (options.msgId !== undefined) entry.msgId = options.msgId;
    if (options.headers !== undefined) entry.headers = options.headers;
    if (options.expectedLastSeq !== undefined) entry.expectedLastSeq = options.expectedLastSeq;
    const deliverAt =
      options.deliverAt ?? (options.delayMs !== undefined ? this.timer.now() + options.delayMs : undefined);
    if (deliverAt !== undefined) entry.deliverAt = deliverAt;
    const ack = await new Promise<{ seq: number; duplicate: boolean }>((resolve, reject) =>
      this.enqueue(view, partition, { entry, retryable: options.msgId !== undefined, resolve, reject }),
    );
    return { stream: view.config.name, partition, ...ack };
  }

  /** Fetches due messages from every partition of the stream (at most `max` each). */
  async fetch(stream: string, consumer: string, options: FetchOptions = {}): Promise<QueueMessage[]> {
    const view = await this.stream(stream);
    const batches = await Promise.all(view.partitions.map((_, p) => this.fetchPartition(view, p, consumer, options)));
    return batches.flat();
  }

  /**
   * Runs `handler` for every message the consumer receives, one loop per partition: returning
   * acks the message, throwing naks it (redelivered per the consumer's backoff, dead-lettered
   * after maxDeliver). The loops end on `stop()`, on `close()`, and when the node stops.
   */
  consume(
    stream: string,
    consumer: string,
    handler: (message: QueueMessage) => unknown,
    options: ConsumeOptions = {},
  ): Consumption {
    let stopped = false;
    const concurrency = Math.max(1, options.concurrency ?? 1);
    const onError = options.onError ?? (() => {});
    /** Runs the handler; resolves with the message's ack or nak in flight (a batch's acks travel together). */
    const handle = async (m: QueueMessage): Promise<{ settled: Promise<void> }> => {
      try {
        await handler(m);
        return { settled: m.ack().catch(onError) };
      } catch (err) {
        onError(err);
        return { settled: m.nak(undefined, err instanceof Error ? err.message : String(err)).catch(onError) };
      }
    };
    // A node that stops drains its in-flight calls: the loops must not start new fetches then.
    let nodeWasRunning = this.node.running;
    const nodeStopping = () => {
      if (this.node.running) nodeWasRunning = true;
      return nodeWasRunning && !this.node.running;
    };
    const loop = async (view: StreamView, p: number) => {
      for (let attempt = 0; !stopped && !this.closed && !nodeStopping(); ) {
        try {
          const batch = await this.fetchPartition(view, p, consumer, { waitMs: 5000, ...options });
          attempt = 0;
          const settling: Promise<void>[] = [];
          for (let i = 0; i < batch.length && !stopped; i += concurrency) {
            for (const h of await Promise.all(batch.slice(i, i + concurrency).map(handle))) settling.push(h.settled);
          }
          // The next fetch after this batch's acks are applied: credit is free again.
          await Promise.all(settling);
        } catch (err) {
          if (stopped || this.closed || nodeStopping()) return;
          onError(err);
          await sleep(RETRY_BACKOFF.delayMs(++attempt, Math.random), undefined, this.timer);
        }
      }
    };
    const running = this.stream(stream).then((view) => Promise.all(view.partitions.map((_, p) => loop(view, p))));
    return {
      stop: async () => {
        stopped = true;
        await running.catch(() => {});
      },
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops the client (and its node, when `connectQueues` made it); running `consume` loops end. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.ownsNode) await this.node.stop();
  }

  /** The same as `stop()`. */
  close(): Promise<void> {
    return this.stop();
  }

  // ---- partitions ----

  private async fetchPartition(
    view: StreamView,
    partition: number,
    consumer: string,
    options: FetchOptions,
  ): Promise<QueueMessage[]> {
    const result = (await this.onPartition(view, partition, 'fetch', {
      consumer,
      max: options.max ?? 100,
      maxBytes: options.maxBytes ?? 1024 * 1024,
      waitMs: options.waitMs ?? 0,
    })) as { deliveries: { message: StoredMessage; deliveries: number; token: number }[] };
    return result.deliveries.map((d) => this.message(view, partition, consumer, d));
  }

  private message(
    view: StreamView,
    partition: number,
    consumer: string,
    d: { message: StoredMessage; deliveries: number; token: number },
  ): QueueMessage {
    const send = async (entry: Omit<AckEntry, 'seq' | 'token'>, ignoreGone: boolean) => {
      const outcome = await new Promise<AckOutcomeWire>((resolve, reject) =>
        this.enqueueAck(view, partition, consumer, {
          entry: { ...entry, seq: d.message.seq, token: d.token },
          resolve,
          reject,
        }),
      );
      if ('error' in outcome) {
        if (ignoreGone && outcome.error.code === 'NOT_FOUND') return;
        throw fromWire(outcome.error);
      }
    };
    return {
      ...d.message,
      stream: view.config.name,
      partition,
      deliveries: d.deliveries,
      text: () => decoder.decode(d.message.payload),
      ack: () => send({ kind: 'ack' }, true),
      nak: (delayMs, error) =>
        send({ kind: 'nak', ...(delayMs !== undefined ? { delayMs } : {}), ...(error ? { error } : {}) }, false),
      progress: () => send({ kind: 'progress' }, false),
      term: (error) => send({ kind: 'term', ...(error ? { error } : {}) }, false),
    };
  }

  /** Joins the acknowledgements of one consumer on one partition made in this turn into one command. */
  private enqueueAck(view: StreamView, partition: number, consumer: string, pending: PendingAck): void {
    const key = `${view.partitions[partition]!.groupId}\u0000${consumer}`;
    let batch = this.ackBatches.get(key);
    if (batch !== undefined) {
      batch.push(pending);
      return;
    }
    batch = [pending];
    this.ackBatches.set(key, batch);
    queueMicrotask(() => {
      this.ackBatches.delete(key);
      // Acks are idempotent (an acked message answers NOT_FOUND): an unknown outcome is retried.
      this.onPartition(view, partition, 'ack', { consumer, acks: batch.map((b) => b.entry) }).then(
        (result) => {
          const outcomes = (result as { outcomes: AckOutcomeWire[] }).outcomes;
          batch.forEach((b, i) => {
            const o = outcomes[i];
            if (o === undefined) b.reject(new ParleyError('INTERNAL', 'the server answered fewer outcomes than acks'));
            else b.resolve(o);
          });
        },
        (err) => {
          for (const b of batch) b.reject(err);
        },
      );
    });
  }

  /** Joins the publishes made to one partition in this turn into one command. */
  private enqueue(view: StreamView, partition: number, pending: PendingPublish): void {
    const groupId = view.partitions[partition]!.groupId;
    let batch = this.batches.get(groupId);
    if (batch !== undefined) {
      batch.push(pending);
      return;
    }
    batch = [pending];
    this.batches.set(groupId, batch);
    queueMicrotask(() => {
      this.batches.delete(groupId);
      void this.sendBatch(view, partition, batch);
    });
  }

  private async sendBatch(view: StreamView, partition: number, batch: PendingPublish[]): Promise<void> {
    try {
      const result = (await this.onPartition(
        view,
        partition,
        'publish',
        { messages: batch.map((b) => b.entry) },
        batch.every((b) => b.retryable),
      )) as PublishResult;
      batch.forEach((b, i) => {
        const o = result.outcomes[i];
        if (o === undefined) b.reject(new ParleyError('INTERNAL', 'the server answered fewer outcomes than messages'));
        else if ('error' in o) b.reject(fromWire(o.error));
        else b.resolve({ seq: o.seq, duplicate: o.duplicate === true });
      });
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  // ---- routing ----

  private async stream(name: string): Promise<StreamView> {
    return this.streamCache.get(name) ?? this.refresh(name);
  }

  private async refresh(name: string): Promise<StreamView> {
    const view = (await this.onAnyServer('$queue.stream', { name })) as StreamView;
    this.streamCache.set(name, view);
    return view;
  }

  private async streamFor(subject: string): Promise<StreamView> {
    const match = () =>
      [...this.streamCache.values()].find((v) => v.config.subjects.some((p) => subjectMatches(p, subject)));
    const cached = match();
    if (cached !== undefined) return cached;
    await this.streams.list();
    const found = match();
    if (found === undefined) {
      throw new ParleyError('NOT_FOUND', `no stream takes subject '${subject}': create one whose subjects match it`);
    }
    return found;
  }

  private servers(): string[] {
    return this.node
      .nodes()
      .filter((n) => n.connected && n.services.some((s) => s.name === '$queue'))
      .map((n) => n.id);
  }

  private onKvLeader(action: string, params: unknown): Promise<unknown> {
    return this.withRetries(
      action,
      params,
      () => {
        const servers = this.servers();
        if (this.kvLeader !== null && servers.includes(this.kvLeader)) return [this.kvLeader];
        return servers;
      },
      (leader) => {
        this.kvLeader = leader;
      },
      false,
    );
  }

  private onAnyServer(action: string, params: unknown): Promise<unknown> {
    return this.onKvLeader(action, params);
  }

  private onPartition(
    view: StreamView,
    partition: number,
    action: string,
    params: Record<string, unknown>,
    retryUnknown = true,
  ): Promise<unknown> {
    const pv = view.partitions[partition];
    if (pv === undefined) {
      return Promise.reject(
        new ParleyError('INVALID_ARGUMENT', `stream ${view.config.name} has no partition ${partition}`),
      );
    }
    return this.withRetries(
      `$queue.${action}`,
      { ...params, group: pv.groupId },
      () => {
        const hint = this.leaders.get(pv.groupId) ?? pv.leader ?? pv.preferredLeader;
        return [hint, ...pv.voters.filter((v) => v !== hint)];
      },
      (leader) => {
        if (leader === null) this.leaders.delete(pv.groupId);
        else this.leaders.set(pv.groupId, leader);
      },
      retryUnknown,
    );
  }

  /**
   * Calls `action` on the first of `candidates()`, following 'not-leader' redirects and trying
   * the next candidate on UNAVAILABLE, within the client's budget. An attempt whose outcome is
   * unknown (lost connection, timeout) is retried only when `retryUnknown`.
   */
  private async withRetries(
    action: string,
    params: unknown,
    candidates: () => string[],
    learnLeader: (leader: string | null) => void,
    retryUnknown: boolean,
  ): Promise<unknown> {
    const deadline = this.timer.now() + this.timeoutMs;
    let last: ParleyError | null = null;
    /** Which candidate is next: back to the first (the leader hint) whenever a leader is named. */
    let turn = 0;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new ParleyError('CANCELLED', 'the queue client is closed');
      const remaining = deadline - this.timer.now();
      if (remaining <= 0) {
        throw new ParleyError(
          'UNAVAILABLE',
          `${action} did not complete within ${this.timeoutMs} ms (${last?.message ?? 'no server reached'})`,
          {
            cause: last ?? undefined,
          },
        );
      }
      const list = candidates();
      const target = list.length === 0 ? null : list[turn % list.length]!;
      if (target === null) {
        last = new ParleyError('UNAVAILABLE', 'no queue server is connected yet');
        await sleep(Math.min(remaining, RETRY_BACKOFF.delayMs(attempt + 1, Math.random)), undefined, this.timer);
        continue;
      }
      try {
        return await this.node.call(action, params, { nodeId: target, timeout: Math.min(remaining, 35_000) });
      } catch (err) {
        const e = ParleyError.from(err);
        last = e;
        const details = (e.details ?? {}) as { reason?: string; leader?: string | null };
        if (details.reason === 'not-leader') {
          const named = typeof details.leader === 'string' && details.leader !== target ? details.leader : null;
          learnLeader(named);
          if (named !== null) turn = 0;
          else {
            turn++;
            await sleep(Math.min(remaining, RETRY_BACKOFF.delayMs(attempt + 1, Math.random)), undefined, this.timer);
          }
          continue;
        }
        const unknownOutcome = e.code === 'DEADLINE_EXCEEDED' || e.code === 'CANCELLED' || e.code === 'UNAVAILABLE';
        if (unknownOutcome && (retryUnknown || (e.code === 'UNAVAILABLE' && details.reason === 'proposal-dropped'))) {
          learnLeader(null);
          turn++;
          await sleep(Math.min(remaining, RETRY_BACKOFF.delayMs(attempt + 1, Math.random)), undefined, this.timer);
          continue;
        }
        throw e;
      }
    }
  }
}

/** A standalone client: a node that does not listen and joins through `servers`. */
export async function connectQueues(options: ConnectQueuesOptions): Promise<QueueClient> {
  if (!Array.isArray(options.servers) || options.servers.length === 0) {
    throw new ParleyError('INVALID_ARGUMENT', 'connectQueues needs servers: ["host:port", ...]');
  }
  const node = createNode({
    id: options.id ?? `q-${process.pid}-${randomBytes(3).toString('hex')}`,
    port: null,
    seeds: options.servers,
    logger: options.logger ?? 'silent',
    gossipInterval: 500,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  await node.start();
  return new QueueClient(node, { ...options, ownsNode: true });
}

const clients = new WeakMap<ParleyNode, QueueClient>();

/** The queue client of a node that can reach the servers (one per node). */
export function queuesFor(node: ParleyNode, options: QueueClientOptions = {}): QueueClient {
  let c = clients.get(node);
  if (c === undefined || c.isClosed) {
    c = new QueueClient(node, options);
    clients.set(node, c);
  }
  return c;
}
