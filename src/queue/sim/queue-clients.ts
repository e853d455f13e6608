import type { Prng } from '../../base/random.js';
import type { AckEntry, AckKind, Delivery, PartitionOutcome } from '../types.js';
import type { AckRecord, HistoryRecord } from './history.js';
import type { PartitionRequests, RequestOutcome } from './partition-requests.js';

/**
 * The simulated clients of one partition: publishers and consumer workers. Each has at most one
 * command in flight and records what it observes in the shared history (history.ts): a
 * publish's verdict (retried with the same msgId after an unknown outcome or a refusal), every
 * delivery a fetch handed it, every ack's verdict. A worker that crashes forgets what it held
 * (those deliveries expire and are redelivered) and ignores answers to commands sent before.
 *
 * A message's payload is its msgId; a msgId ending in `!` is poison: workers nak it (sometimes
 * term it) until it is dead-lettered.
 */

export const SUBJECT = 'orders.created';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function isPoison(id: string): boolean {
  return id.endsWith('!');
}

/** What every client shares: where to send, the history, simulated time. */
export interface ClientContext {
  readonly requests: PartitionRequests;
  readonly rng: Prng;
  readonly history: HistoryRecord[];
  /** The current step. */
  now(): number;
}

function describeFailure(o: RequestOutcome): string {
  if (o.kind !== 'applied') return o.reason;
  return o.outcome.ok ? 'unexpected result' : `${o.outcome.error.code}: ${o.outcome.error.message}`;
}

export interface PublisherSettings {
  /** Probability per idle step of publishing a new message. */
  readonly rate: number;
  readonly keys: readonly string[];
  /** Probability that a message has a key. */
  readonly keyed: number;
  readonly poison: number;
  /** Tries per message before giving up. */
  readonly maxAttempts: number;
}

export class Publisher {
  private seq = 0;
  private current: { msgId: string; key: string | undefined; attempt: number } | null = null;
  private busy = false;
  private retryAt = 0;
  /** False once the drain starts: only the message in hand is finished. */
  publishing = true;
  stats = { publishOk: 0, publishDuplicates: 0, publishFailed: 0, publishUnknown: 0, publishGaveUp: 0 };

  constructor(
    readonly name: string,
    private readonly ctx: ClientContext,
    private readonly s: PublisherSettings,
  ) {}

  get idle(): boolean {
    return !this.busy && this.current === null;
  }

  step(): void {
    const { rng } = this.ctx;
    if (this.busy || this.ctx.now() < this.retryAt) return;
    if (this.current === null) {
      if (!this.publishing || !rng.chance(this.s.rate)) return;
      const key = rng.chance(this.s.keyed) ? rng.pick(this.s.keys) : undefined;
      const msgId = `${this.name}-${++this.seq}${rng.chance(this.s.poison) ? '!' : ''}`;
      this.current = { msgId, key, attempt: 0 };
    }
    const m = this.current;
    m.attempt++;
    this.busy = true;
    const issuedAt = this.ctx.now();
    this.ctx.requests.send(
      (now) => ({
        type: 'publish',
        now,
        messages: [
          {
            subject: SUBJECT,
            ...(m.key === undefined ? {} : { key: m.key }),
            payload: encoder.encode(m.msgId),
            msgId: m.msgId,
          },
        ],
      }),
      (o) => this.answered(m, issuedAt, o),
    );
  }

  private answered(
    m: { msgId: string; key: string | undefined; attempt: number },
    issuedAt: number,
    o: RequestOutcome,
  ): void {
    this.busy = false;
    const base = {
      op: 'publish' as const,
      client: this.name,
      msgId: m.msgId,
      ...(m.key === undefined ? {} : { key: m.key }),
      attempt: m.attempt,
      issuedAt,
      step: this.ctx.now(),
    };
    const result = o.kind === 'applied' && o.outcome.ok ? o.outcome.result : null;
    const first = result?.type === 'publish' ? result.outcomes[0] : undefined;
    if (o.kind === 'applied' && first !== undefined && 'seq' in first) {
      this.ctx.history.push({
        ...base,
        outcome: { kind: 'ok', seq: first.seq, duplicate: first.duplicate === true, index: o.index },
      });
      this.stats.publishOk++;
      if (first.duplicate === true) this.stats.publishDuplicates++;
      this.current = null;
      return;
    }
    if (o.kind === 'unknown') {
      this.ctx.history.push({ ...base, outcome: { kind: 'unknown', reason: o.reason } });
      this.stats.publishUnknown++;
    } else {
      const reason =
        first !== undefined && 'error' in first ? `${first.error.code}: ${first.error.message}` : describeFailure(o);
      this.ctx.history.push({ ...base, outcome: { kind: 'failed', reason } });
      this.stats.publishFailed++;
      // The state machine refused it: retrying the same message cannot help.
      if (o.kind === 'applied') {
        this.current = null;
        return;
      }
    }
    if (m.attempt >= this.s.maxAttempts) {
      this.stats.publishGaveUp++;
      this.current = null;
    } else this.retryAt = this.ctx.now() + this.ctx.rng.range(1, 10);
  }
}

/** How a worker treats what it fetched. */
export type WorkerBehaviour =
  /** Acks within a few steps. */
  | 'prompt'
  /** Takes about the ack wait or longer: its acks often carry a stale token. */
  | 'slow'
  /** Never acks (holds what it got until it forgets it, long after the ack wait). */
  | 'never'
  /** Prompt, but crashes now and then, forgetting what it holds. */
  | 'crashy';

export interface WorkerSettings {
  readonly consumer: string;
  readonly behaviour: WorkerBehaviour;
  /** The consumer's ack wait in steps. */
  readonly ackWaitSteps: number;
  readonly fetchRate: number;
  readonly crashRate: number;
}

interface Held {
  readonly delivery: Delivery;
  readonly id: string;
  readonly gotAt: number;
  due: number;
  ackRetried: boolean;
}

export class ConsumerWorker {
  private readonly held = new Map<number, Held>();
  private busy = false;
  /** The acks of the command in flight (recorded as unknown if this worker crashes first). */
  private acking: { entries: AckEntry[]; issuedAt: number } | null = null;
  private incarnation = 0;
  private downUntil = 0;
  private draining = false;
  stats = { fetches: 0, deliveries: 0, redeliveries: 0, acksOk: 0, acksRefused: 0, acksUnknown: 0, crashes: 0 };

  constructor(
    readonly name: string,
    private readonly ctx: ClientContext,
    private readonly s: WorkerSettings,
  ) {}

  /** The drain: from now on fetch and settle everything promptly (poison is still nak'ed). */
  startDrain(): void {
    this.draining = true;
    this.downUntil = 0;
    for (const h of this.held.values()) h.due = Math.min(h.due, this.ctx.now());
  }

  get holding(): number {
    return this.held.size;
  }

  get idle(): boolean {
    return !this.busy && this.held.size === 0;
  }

  step(): void {
    const { rng } = this.ctx;
    const now = this.ctx.now();
    if (now < this.downUntil) return;
    if (!this.draining && this.s.behaviour === 'crashy' && rng.chance(this.s.crashRate)) {
      this.held.clear();
      this.busy = false;
      if (this.acking !== null) {
        for (const e of this.acking.entries)
          this.record(e, this.acking.issuedAt, { kind: 'unknown', reason: 'the worker crashed' });
        this.acking = null;
      }
      this.incarnation++;
      this.downUntil = now + rng.range(1, 3 * this.s.ackWaitSteps);
      this.stats.crashes++;
      return;
    }
    if (this.busy) return;
    if (!this.draining && this.s.behaviour === 'never') {
      for (const [seq, h] of this.held) if (now - h.gotAt > 6 * this.s.ackWaitSteps) this.held.delete(seq);
    }
    const due = [...this.held.values()].filter((h) => h.due <= now).slice(0, 4);
    if (due.length > 0) this.settle(due);
    else if (this.held.size < 4 && (this.draining || rng.chance(this.s.fetchRate))) this.fetch();
  }

  private fetch(): void {
    const inc = this.incarnation;
    this.busy = true;
    this.stats.fetches++;
    const max = this.ctx.rng.range(1, 4);
    this.ctx.requests.send(
      (now) => ({ type: 'fetch', now, consumer: this.s.consumer, max, maxBytes: 1 << 20 }),
      (o) => {
        if (inc !== this.incarnation) return;
        this.busy = false;
        if (o.kind !== 'applied' || !o.outcome.ok || o.outcome.result.type !== 'fetch') return;
        for (const d of o.outcome.result.deliveries) this.got(d, o.index);
      },
    );
  }

  private got(d: Delivery, index: number): void {
    const id = decoder.decode(d.message.payload);
    const now = this.ctx.now();
    this.ctx.history.push({
      op: 'delivery',
      client: this.name,
      consumer: this.s.consumer,
      step: now,
      index,
      seq: d.message.seq,
      id,
      ...(d.message.key === undefined ? {} : { key: d.message.key }),
      token: d.token,
      deliveries: d.deliveries,
    });
    this.stats.deliveries++;
    if (d.deliveries > 1) this.stats.redeliveries++;
    this.held.set(d.message.seq, { delivery: d, id, gotAt: now, due: now + this.delay(), ackRetried: false });
  }

  /** Steps until this worker settles a delivery. */
  private delay(): number {
    const { rng } = this.ctx;
    const wait = this.s.ackWaitSteps;
    if (this.draining) return rng.range(0, 2);
    switch (this.s.behaviour) {
      case 'prompt':
      case 'crashy':
        return rng.range(0, 5);
      case 'slow':
        return rng.range(Math.floor(wait / 2), 2 * wait);
      case 'never':
        return Number.POSITIVE_INFINITY;
    }
  }

  private kindFor(h: Held): { kind: AckKind; delayMs?: number } {
    const { rng } = this.ctx;
    if (isPoison(h.id)) return rng.chance(0.15) ? { kind: 'term' } : { kind: 'nak' };
    if (this.draining) return { kind: 'ack' };
    const r = rng.next();
    if (r < 0.06) return { kind: 'nak', delayMs: rng.int(3) * 50 };
    if (r < 0.1) return { kind: 'progress' };
    return { kind: 'ack' };
  }

  private settle(due: Held[]): void {
    const inc = this.incarnation;
    const issuedAt = this.ctx.now();
    const entries: AckEntry[] = due.map((h) => {
      const k = this.kindFor(h);
      return {
        kind: k.kind,
        seq: h.delivery.message.seq,
        token: h.delivery.token,
        ...(k.delayMs === undefined ? {} : { delayMs: k.delayMs }),
        ...(k.kind === 'nak' || k.kind === 'term' ? { error: 'poison' } : {}),
      };
    });
    for (const h of due) this.held.delete(h.delivery.message.seq);
    this.busy = true;
    this.acking = { entries, issuedAt };
    this.ctx.requests.send(
      (now) => ({ type: 'ack', now, consumer: this.s.consumer, acks: entries }),
      (o) => {
        if (inc !== this.incarnation) return;
        this.busy = false;
        this.acking = null;
        for (const [i, e] of entries.entries()) this.acked(e, due[i]!, issuedAt, o, i);
      },
    );
  }

  private acked(e: AckEntry, h: Held, issuedAt: number, o: RequestOutcome, i: number): void {
    const now = this.ctx.now();
    if (o.kind === 'refused') {
      // In no log: it had no effect. Send it again.
      h.due = now + 1;
      this.held.set(e.seq, h);
      return;
    }
    const outcome = this.ackOutcome(o, i);
    this.record(e, issuedAt, outcome);
    if (outcome.kind === 'ok') {
      this.stats.acksOk++;
      if (e.kind === 'progress') {
        h.due = now + this.delay();
        this.held.set(e.seq, h);
      }
    } else if (outcome.kind === 'refused') this.stats.acksRefused++;
    else {
      this.stats.acksUnknown++;
      // Try once more with the same token (the first may have landed: then it is refused).
      if ((e.kind === 'ack' || e.kind === 'term') && !h.ackRetried) {
        h.ackRetried = true;
        h.due = now;
        this.held.set(e.seq, h);
      }
    }
  }

  private record(e: AckEntry, issuedAt: number, outcome: AckRecord['outcome']): void {
    this.ctx.history.push({
      op: 'ack',
      client: this.name,
      consumer: this.s.consumer,
      kind: e.kind,
      seq: e.seq,
      token: e.token,
      issuedAt,
      step: this.ctx.now(),
      outcome,
    });
  }

  private ackOutcome(o: RequestOutcome, i: number): AckRecord['outcome'] {
    if (o.kind === 'unknown') return { kind: 'unknown', reason: o.reason };
    if (o.kind === 'refused') throw new Error('a refused command has no outcome to record');
    const out: PartitionOutcome = o.outcome;
    if (!out.ok) return { kind: 'refused', index: o.index, code: out.error.code, reason: out.error.message };
    const r = out.result;
    const one = r.type === 'ack' ? r.outcomes[i] : undefined;
    if (one === undefined) return { kind: 'refused', index: o.index, code: 'INTERNAL', reason: `result ${r.type}` };
    if ('error' in one) return { kind: 'refused', index: o.index, code: one.error.code, reason: one.error.message };
    return { kind: 'ok', index: o.index };
  }
}
