import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateConsumerConfig } from './consumer-config.js';
import { ConsumerTable } from './consumer-table.js';
import { MessageLog } from './message-log.js';
import { subjectMatches } from './subject.js';
import type { AckKind, ConsumerConfig, DeadLetter } from './types.js';

/**
 * Model-based test of one consumer (the oracle style of raft/core/quorum.test.ts): a brute-force
 * reference that rescans every message on every step, against ConsumerTable, over random
 * sequences of publish / fetch / ack / nak / progress / term / tick / time / removal / restore.
 */

interface ModelMessage {
  seq: number;
  subject: string;
  key: string | undefined;
  size: number;
  deliverAt: number;
  removed: boolean;
}
interface ModelState {
  status: 'open' | 'pending' | 'done';
  deliveries: number;
  token: number;
  deadline: number;
  at: number;
  lastError: string | undefined;
}
type Letter = [seq: number, deliveries: number, reason: string, lastError: string | undefined];

/** The rules of docs/QUEUES.md stated as directly as possible, with no index of any kind. */
class Model {
  readonly messages: ModelMessage[] = [];
  readonly states = new Map<number, ModelState>();
  readonly dead: Letter[] = [];
  private lastToken = 0;

  constructor(private readonly c: ConsumerConfig) {}

  private matches(m: ModelMessage): boolean {
    return !m.removed && (this.c.filterSubject === undefined || subjectMatches(this.c.filterSubject, m.subject));
  }
  private state(seq: number): ModelState {
    let s = this.states.get(seq);
    if (s === undefined) {
      s = { status: 'open', deliveries: 0, token: 0, deadline: 0, at: 0, lastError: undefined };
      this.states.set(seq, s);
    }
    return s;
  }
  private backoff(n: number): number {
    const b = this.c.backoffMs;
    return b.length === 0 ? 0 : b[Math.min(n, b.length) - 1]!;
  }
  private final(s: ModelState): boolean {
    return s.deliveries >= this.c.maxDeliver;
  }
  private pending(): [ModelMessage, ModelState][] {
    const out: [ModelMessage, ModelState][] = [];
    for (const m of this.messages) {
      const s = this.states.get(m.seq);
      if (this.matches(m) && s?.status === 'pending') out.push([m, s]);
    }
    return out;
  }
  private kill(m: ModelMessage, s: ModelState, reason: string): void {
    s.status = 'done';
    this.dead.push([m.seq, s.deliveries, reason, s.lastError]);
  }
  /** Dead-letters every last delivery whose ack wait expired, in (time, seq) order. */
  expire(now: number): number {
    const due = this.pending().filter(([, s]) => this.final(s) && s.at <= now);
    due.sort(([a, sa], [b, sb]) => sa.at - sb.at || a.seq - b.seq);
    for (const [m, s] of due) this.kill(m, s, 'max-deliveries');
    return due.length;
  }
  private blocked(m: ModelMessage): boolean {
    if (this.c.mode !== 'ordered-by-key' || m.key === undefined) return false;
    return this.messages.some(
      (o) => o.seq < m.seq && o.key === m.key && this.matches(o) && this.state(o.seq).status !== 'done',
    );
  }
  fetch(now: number, max: number, maxBytes: number): number[][] {
    this.expire(now);
    const redo = this.pending().filter(([, s]) => s.at <= now);
    const credit = this.c.maxAckPending - this.pending().length;
    const fresh = this.messages.filter(
      (m) => this.matches(m) && this.state(m.seq).status === 'open' && m.deliverAt <= now && !this.blocked(m),
    );
    const out: number[][] = [];
    let bytes = 0;
    const candidates: [ModelMessage, boolean][] = [
      ...redo.map(([m]): [ModelMessage, boolean] => [m, false]),
      ...fresh.slice(0, Math.max(0, credit)).map((m): [ModelMessage, boolean] => [m, true]),
    ];
    for (const [m] of candidates) {
      if (out.length >= max) break;
      if (out.length > 0 && bytes + m.size > maxBytes) break;
      bytes += m.size;
      const s = this.state(m.seq);
      s.status = 'pending';
      s.deliveries++;
      s.token = ++this.lastToken;
      s.deadline = now + this.c.ackWaitMs;
      s.at = this.final(s) ? s.deadline : s.deadline + this.backoff(s.deliveries);
      out.push([m.seq, s.deliveries, s.token, s.deadline]);
    }
    return out;
  }
  ack(now: number, kind: AckKind, seq: number, token: number, delayMs?: number, error?: string): string {
    const m = this.messages[seq - 1];
    const s = this.states.get(seq);
    if (m === undefined || !this.matches(m) || s === undefined || s.status !== 'pending') return 'NOT_FOUND';
    if (s.token !== token) return 'FAILED_PRECONDITION';
    if (kind === 'ack') s.status = 'done';
    else if (kind === 'progress') {
      s.deadline = now + this.c.ackWaitMs;
      s.at = this.final(s) ? s.deadline : s.deadline + this.backoff(s.deliveries);
    } else if (kind === 'nak') {
      if (delayMs !== undefined && delayMs < 0) return 'INVALID_ARGUMENT';
      if (error !== undefined) s.lastError = error;
      if (this.final(s)) this.kill(m, s, 'max-deliveries');
      else s.at = now + (delayMs ?? this.backoff(s.deliveries));
    } else {
      if (error !== undefined) s.lastError = error;
      this.kill(m, s, 'terminated');
    }
    return 'ok';
  }
  /** The largest floor the rules allow: below the first message not yet done. */
  maxAckFloor(): number {
    for (const m of this.messages) if (this.matches(m) && this.state(m.seq).status !== 'done') return m.seq - 1;
    return this.messages.length;
  }
}

const op = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('publish' as const),
      subject: fc.constantFrom('a.x', 'a.y', 'b.x'),
      key: fc.constantFrom(undefined, 'k1', 'k2', 'k3'),
      size: fc.nat({ max: 40 }),
      delay: fc.option(fc.nat({ max: 60_000 }), { nil: undefined, freq: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('fetch' as const),
      max: fc.integer({ min: 1, max: 6 }),
      maxBytes: fc.integer({ min: 1, max: 120 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('ack' as const),
      kind: fc.constantFrom<AckKind>('ack', 'ack', 'nak', 'progress', 'term'),
      pick: fc.nat(),
      fromHistory: fc.nat({ max: 4 }).map((n) => n === 0),
      staleToken: fc.nat({ max: 3 }).map((n) => n === 0),
      delayMs: fc.option(fc.integer({ min: -1, max: 20_000 }), { nil: undefined, freq: 2 }),
      error: fc.option(fc.constantFrom('boom', 'bad input'), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(fc.nat({ max: 2000 }), fc.nat({ max: 40_000 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restore' as const) }) },
);

const config = fc.record({
  name: fc.constant('c'),
  mode: fc.constantFrom('competing', 'ordered-by-key'),
  maxDeliver: fc.integer({ min: 1, max: 4 }),
  ackWaitMs: fc.constantFrom(100, 1000, 30_000),
  backoffMs: fc.array(fc.constantFrom(0, 500, 5000), { maxLength: 3 }),
  maxAckPending: fc.integer({ min: 1, max: 8 }),
  filterSubject: fc.constantFrom(undefined, undefined, 'a.*', 'a.>', 'b.x'),
});

describe('consumer (model-based)', () => {
  it('delivers, acks and dead-letters exactly as the brute-force model does (property)', () => {
    fc.assert(
      fc.property(config, fc.array(op, { minLength: 20, maxLength: 120 }), (input, ops) => {
        const c = validateConsumerConfig(input);
        const limits = { maxMessages: 0, maxBytes: 0, maxAgeMs: 0, discard: 'old', compactByKey: false } as const;
        const log = new MessageLog(limits, (m) => table.messageRemoved(m.seq));
        const dead: Omit<DeadLetter, 'seq'>[] = [];
        const dlq = { deadLetter: (d: Omit<DeadLetter, 'seq'>) => void dead.push(d) };
        let table = new ConsumerTable(log, dlq);
        table.create(c, 0);
        const model = new Model(c);
        const handed: [number, number][] = [];
        let now = 1000;
        for (const o of ops) {
          switch (o.op) {
            case 'publish': {
              const deliverAt = o.delay === undefined ? undefined : now + o.delay;
              const m = log.append(
                {
                  subject: o.subject,
                  ...(o.key === undefined ? {} : { key: o.key }),
                  payload: new Uint8Array(o.size),
                  ...(deliverAt === undefined ? {} : { deliverAt }),
                },
                now,
              );
              model.messages.push({
                seq: m.seq,
                subject: o.subject,
                key: o.key,
                size: o.size,
                deliverAt: deliverAt ?? 0,
                removed: false,
              });
              break;
            }
            case 'fetch': {
              const got = table
                .fetch('c', now, o.max, o.maxBytes)
                .map((d) => [d.message.seq, d.deliveries, d.token, d.deadline]);
              assert.deepEqual(got, model.fetch(now, o.max, o.maxBytes), `fetch at ${now}`);
              for (const [seq, , token] of got) handed.push([seq!, token!]);
              break;
            }
            case 'ack': {
              // Mostly a current delivery (as a live worker would), sometimes any delivery ever handed out.
              const current = [...model.states].filter(([, s]) => s.status === 'pending').map(([q, s]) => [q, s.token]);
              const from = o.fromHistory || current.length === 0 ? handed : current;
              if (from.length === 0) break;
              const [seq, token] = from[o.pick % from.length]! as [number, number];
              const t = o.staleToken ? token - 1 : token;
              const entry = {
                kind: o.kind,
                seq,
                token: t,
                ...(o.delayMs === undefined ? {} : { delayMs: o.delayMs }),
                ...(o.error === undefined ? {} : { error: o.error }),
              };
              const [outcome] = table.ack('c', now, [entry]);
              const code = 'ok' in outcome! ? 'ok' : outcome!.error.code;
              assert.equal(code, model.ack(now, o.kind, seq, t, o.delayMs, o.error), `${o.kind} ${seq}/${t} at ${now}`);
              break;
            }
            case 'tick':
              assert.equal(table.tick(now), model.expire(now));
              break;
            case 'advance':
              now += o.ms;
              break;
            case 'remove': {
              if (model.messages.length === 0) break;
              const seq = (o.pick % model.messages.length) + 1;
              log.remove(seq);
              model.messages[seq - 1]!.removed = true;
              break;
            }
            case 'restore':
              table = ConsumerTable.restore(JSON.parse(JSON.stringify(table.snapshot())), log, dlq);
              break;
          }
          assert.deepEqual(
            dead.map((d) => [d.message.seq, d.deliveries, d.reason, d.lastError]),
            model.dead,
            'dead letters',
          );
          const info = table.info('c');
          const pending = [...model.states.entries()].filter(
            ([seq, s]) => s.status === 'pending' && !model.messages[seq - 1]!.removed,
          );
          assert.equal(info.pending, pending.length, 'pending');
          assert.ok(info.pending <= c.maxAckPending, 'never more than maxAckPending unacked');
          assert.equal(info.redelivered, pending.filter(([, s]) => s.deliveries > 1).length, 'redelivered');
          assert.ok(info.ackFloor <= model.maxAckFloor(), `ack floor ${info.ackFloor} passes an unfinished message`);
        }
      }),
      {
        includeErrorInReport: true,
        // MODEL_RUNS / MODEL_SEED: run longer, or replay a reported seed.
        numRuns: Number(process.env.MODEL_RUNS ?? 400),
        ...(process.env.MODEL_SEED ? { seed: Number(process.env.MODEL_SEED) } : {}),
      },
    );
  });
});
