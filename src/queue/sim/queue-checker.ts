import type {
  AckRecord,
  DeliveryRecord,
  FinalPartitionView,
  HistoryRecord,
  PublishRecord,
  QueueHistory,
} from './history.js';
import { describeRecord } from './history.js';

/** The properties checked, one name each (the name a failure report starts with). */
export type QueueRule =
  | 'dedup answer'
  | 'stored once'
  | 'acknowledged publish lost'
  | 'never delivered'
  | 'neither acked nor dead-lettered'
  | 'delivered after final ack'
  | 'acked twice'
  | 'stale token accepted'
  | 'delivery count'
  | 'per-key order'
  | 'dead letter lost'
  | 'not drained'
  | 'replicas diverge';

export interface QueueViolation {
  /** A checker rule, or a raft invariant / exception that stopped the run. */
  readonly rule: QueueRule | `raft: ${string}`;
  readonly message: string;
  /** The history records the verdict rests on. */
  readonly evidence: readonly HistoryRecord[];
}

/** "rule: message" followed by the evidence, one record per line. */
export function describeViolation(v: QueueViolation): string {
  return [`${v.rule}: ${v.message}`, ...v.evidence.map((r) => `  ${describeRecord(r)}`)].join('\n');
}

/**
 * The checker of a simulated queue run: it reads the clients' history and every member's final
 * state (QueueHistory) and reports each broken property with its evidence. It knows the contract
 * of docs/QUEUES.md, not the implementation, and never guesses in the implementation's favour
 * beyond what a client could not know: an ack whose outcome is unknown may have been applied at
 * any index after it was issued; a dead letter may have been made at any time after the
 * message's last observed delivery.
 *
 * Assumptions of the workload it checks (queue-workload.ts): one partition; a message's payload
 * is its msgId; no retry reaches past the dedup window; retention keeps every message (no limits,
 * no purge, no dead-letter replay); every consumer starts from the first message and has no
 * filter; keyed messages have no `deliverAt`.
 *
 * Properties:
 *  - dedup answer: every successful publish of one msgId answers the same sequence;
 *  - stored once: no replica stores two messages with one msgId; no two sequences are delivered
 *    carrying one msgId;
 *  - acknowledged publish lost: every publish answered ok is in every replica's final log (or
 *    its dead-letter log) at the sequence it was answered, holding that message;
 *  - never delivered: every stored message was delivered to every consumer at least once or
 *    dead-lettered for it;
 *  - neither acked nor dead-lettered: after the drain, every stored message is acked (or
 *    terminated) by every consumer, or in its dead-letter log;
 *  - delivered after final ack: no delivery of a message to a consumer is applied after an ack
 *    (or term) of it that succeeded;
 *  - acked twice: two acks of one message with different tokens do not both succeed;
 *  - stale token accepted: an ack/nak/progress/term succeeds only with the token of the
 *    message's latest delivery;
 *  - delivery count: each redelivery's count is higher than the last, tokens differ, and no
 *    count exceeds maxDeliver;
 *  - per-key order (ordered-by-key consumers): when a message of key K is delivered, every
 *    earlier message of K is settled for that consumer (acked, terminated or dead-lettered);
 *  - dead letter lost: a message terminated, or nak'ed/left to expire at its maxDeliver-th
 *    delivery, is in every replica's dead-letter log;
 *  - not drained: after the drain no consumer has pending or waiting messages;
 *  - replicas diverge: members that applied the same index hold the same state.
 */
export function checkQueueHistory(h: QueueHistory, limit = 20): QueueViolation[] {
  return new QueueCheck(h, limit).run();
}

const SETTLING = new Set(['ack', 'term']);
const pair = (consumer: string, seq: number): string => `${consumer}/${seq}`;

class QueueCheck {
  private readonly out: QueueViolation[] = [];
  private readonly publishes = new Map<string, PublishRecord[]>();
  private readonly deliveries = new Map<string, DeliveryRecord[]>();
  private readonly acks = new Map<string, AckRecord[]>();
  /** Every sequence known to hold a message → its id and key. */
  private readonly messages = new Map<number, { id: string; key: string | undefined }>();
  /** consumer/seq pairs dead-lettered in some replica's final state. */
  private readonly deadLettered = new Set<string>();
  /** The final states of the members that applied the most (a lagging member is reported, not compared). */
  private readonly finals: readonly FinalPartitionView[];

  constructor(
    private readonly h: QueueHistory,
    private readonly limit: number,
  ) {
    for (const r of h.records) {
      if (r.op === 'publish') push(this.publishes, r.msgId, r);
      else if (r.op === 'delivery') {
        push(this.deliveries, pair(r.consumer, r.seq), r);
        if (!this.messages.has(r.seq)) this.messages.set(r.seq, { id: r.id, key: r.key });
      } else push(this.acks, pair(r.consumer, r.seq), r);
    }
    for (const list of this.deliveries.values()) list.sort((a, b) => a.index - b.index);
    for (const [id, list] of this.publishes) {
      for (const p of list) {
        if (p.outcome.kind === 'ok' && !this.messages.has(p.outcome.seq)) {
          this.messages.set(p.outcome.seq, { id, key: p.key });
        }
      }
    }
    const top = Math.max(...h.final.map((v) => v.applied));
    this.finals = h.final.filter((v) => v.applied === top);
    for (const v of this.finals) {
      for (const m of v.messages) if (!this.messages.has(m.seq)) this.messages.set(m.seq, { id: m.id, key: m.key });
      for (const d of v.deadLetters) this.deadLettered.add(pair(d.consumer, d.seq));
    }
  }

  run(): QueueViolation[] {
    const checks = [
      () => this.checkPublishes(),
      () => this.checkStoredOnce(),
      () => this.checkDeliveries(),
      () => this.checkAcks(),
      () => this.checkOrder(),
      () => this.checkSettled(),
      () => this.checkFinal(),
    ];
    for (const check of checks) {
      if (this.out.length >= this.limit) break;
      check();
    }
    return this.out.slice(0, this.limit);
  }

  private report(rule: QueueRule, message: string, evidence: readonly HistoryRecord[] = []): void {
    if (this.out.length < this.limit) this.out.push({ rule, message, evidence: evidence.slice(0, 12) });
  }

  private checkPublishes(): void {
    for (const [id, list] of this.publishes) {
      const ok = list.filter((p) => p.outcome.kind === 'ok');
      const seqs = new Set(ok.map((p) => (p.outcome as { seq: number }).seq));
      if (seqs.size > 1) {
        this.report('dedup answer', `msgId ${id} was answered with sequences ${[...seqs].join(' and ')}`, ok);
      }
      const first = ok[0];
      if (first === undefined || first.outcome.kind !== 'ok') continue;
      const seq = first.outcome.seq;
      for (const v of this.finals) {
        const m = v.messages.find((x) => x.seq === seq);
        const dead = v.deadLetters.some((d) => d.seq === seq && d.id === id);
        if ((m === undefined || m.id !== id) && !dead) {
          this.report(
            'acknowledged publish lost',
            `${id} was published with seq ${seq}, but ${v.member}'s final log ${m === undefined ? 'has no message there' : `holds ${m.id} there`}`,
            ok,
          );
        }
      }
    }
  }

  private checkStoredOnce(): void {
    for (const v of this.finals) {
      const seen = new Map<string, number>();
      for (const m of v.messages) {
        const other = seen.get(m.id);
        if (other !== undefined) {
          this.report('stored once', `${v.member} stores ${m.id} twice: seq ${other} and seq ${m.seq}`, [
            ...(this.publishes.get(m.id) ?? []),
          ]);
        } else seen.set(m.id, m.seq);
      }
    }
    const delivered = new Map<string, DeliveryRecord>();
    for (const list of this.deliveries.values()) {
      for (const d of list) {
        const other = delivered.get(d.id);
        if (other === undefined) delivered.set(d.id, d);
        else if (other.seq !== d.seq) {
          this.report('stored once', `${d.id} was delivered as seq ${other.seq} and as seq ${d.seq}`, [
            ...(this.publishes.get(d.id) ?? []),
            other,
            d,
          ]);
          delivered.set(d.id, d); // report each further copy once
        }
      }
    }
  }

  private checkDeliveries(): void {
    for (const spec of this.h.consumers) {
      for (const [seq, m] of this.messages) {
        const k = pair(spec.name, seq);
        const list = this.deliveries.get(k) ?? [];
        if (list.length === 0 && !this.deadLettered.has(k)) {
          this.report('never delivered', `${spec.name} never got seq ${seq} (${m.id}) and it is not dead-lettered`, [
            ...(this.publishes.get(m.id) ?? []),
          ]);
        }
        const tokens = new Set<number>();
        let prev: DeliveryRecord | null = null;
        for (const d of list) {
          const bad =
            d.deliveries > spec.maxDeliver
              ? `delivery number ${d.deliveries} exceeds maxDeliver ${spec.maxDeliver}`
              : prev !== null && d.deliveries <= prev.deliveries
                ? `delivery number ${d.deliveries} after ${prev.deliveries}`
                : tokens.has(d.token)
                  ? `token ${d.token} handed out twice`
                  : null;
          if (bad !== null) this.report('delivery count', `${spec.name} seq ${seq}: ${bad}`, list);
          tokens.add(d.token);
          prev = d;
        }
      }
    }
  }

  private checkAcks(): void {
    for (const [k, list] of this.acks) {
      const delivered = this.deliveries.get(k) ?? [];
      const ok = list.filter((a) => a.outcome.kind === 'ok');
      const settled = ok.filter((a) => SETTLING.has(a.kind));
      if (new Set(settled.map((a) => a.token)).size > 1) {
        this.report('acked twice', `${k}: acks with different tokens all succeeded`, [...delivered, ...settled]);
      }
      const finalIndex = Math.min(...settled.map((a) => (a.outcome as { index: number }).index));
      const late = delivered.filter((d) => d.index > finalIndex);
      if (late.length > 0) {
        this.report(
          'delivered after final ack',
          `${k} was delivered at index ${late[0]!.index}, after its ack succeeded at index ${finalIndex}`,
          [...settled, ...late],
        );
      }
      for (const a of ok) {
        const at = (a.outcome as { index: number }).index;
        const own = delivered.find((d) => d.token === a.token);
        if (own === undefined) continue;
        const newer = delivered.find((d) => d.index > own.index && d.index < at);
        if (newer !== undefined) {
          this.report(
            'stale token accepted',
            `${a.kind} of ${k} with token ${a.token} succeeded at index ${at}, but the message was redelivered with token ${newer.token} at index ${newer.index}`,
            [own, newer, a],
          );
        }
      }
    }
  }

  /** When `seq` is settled for `consumer` at the latest (index, or the step an unknown ack was issued), per the client's knowledge. */
  private settledBy(consumer: string, seq: number, index: number, step: number): boolean {
    const k = pair(consumer, seq);
    if (this.deadLettered.has(k)) {
      // A dead letter is made when a delivery expires or is nak'ed: after its last observed delivery.
      const last = (this.deliveries.get(k) ?? []).at(-1);
      return last === undefined || last.index < index;
    }
    for (const a of this.acks.get(k) ?? []) {
      if (!SETTLING.has(a.kind)) continue;
      if (a.outcome.kind === 'ok' && a.outcome.index < index) return true;
      if (a.outcome.kind === 'unknown' && a.issuedAt <= step) return true;
    }
    return false;
  }

  private checkOrder(): void {
    const byKey = new Map<string, number[]>();
    for (const [seq, m] of this.messages) if (m.key !== undefined) push(byKey, m.key, seq);
    for (const spec of this.h.consumers) {
      if (spec.mode !== 'ordered-by-key') continue;
      for (const list of this.deliveries.values()) {
        for (const d of list) {
          if (d.consumer !== spec.name || d.key === undefined) continue;
          for (const seq of byKey.get(d.key) ?? []) {
            if (seq >= d.seq || this.settledBy(spec.name, seq, d.index, d.step)) continue;
            const before = (this.deliveries.get(pair(spec.name, seq)) ?? []).filter((x) => x.index <= d.index);
            const state =
              before.length === 0
                ? 'not yet delivered'
                : before.at(-1)!.index === d.index
                  ? 'delivered by the same fetch'
                  : 'delivered and not settled';
            this.report(
              'per-key order',
              `${spec.name} got seq ${d.seq} of key ${d.key} at index ${d.index} while seq ${seq} of that key was ${state}`,
              [...before, ...(this.acks.get(pair(spec.name, seq)) ?? []), d],
            );
          }
        }
      }
    }
  }

  private checkSettled(): void {
    for (const spec of this.h.consumers) {
      for (const [seq, m] of this.messages) {
        const k = pair(spec.name, seq);
        const acks = this.acks.get(k) ?? [];
        const delivered = this.deliveries.get(k) ?? [];
        const terminated = acks.some((a) => a.kind === 'term' && a.outcome.kind === 'ok');
        const last = delivered.at(-1);
        const mustBeDead =
          terminated ||
          (last !== undefined &&
            last.deliveries >= spec.maxDeliver &&
            !acks.some((a) => a.kind === 'ack' && a.outcome.kind !== 'refused'));
        for (const v of this.finals) {
          const dead = v.deadLetters.some((x) => x.consumer === spec.name && x.seq === seq);
          if (mustBeDead && !dead) {
            this.report(
              'dead letter lost',
              `${k} (${m.id}) was ${terminated ? 'terminated' : `delivered ${last!.deliveries} times (maxDeliver ${spec.maxDeliver}) and not acked`} but is not in ${v.member}'s dead-letter log`,
              [...delivered, ...acks],
            );
          }
        }
        const settled = acks.some((a) => SETTLING.has(a.kind) && a.outcome.kind !== 'refused');
        if (!settled && !this.deadLettered.has(k) && delivered.length > 0) {
          this.report(
            'neither acked nor dead-lettered',
            `${k} (${m.id}) was never acked nor terminated by ${spec.name} and is not dead-lettered`,
            [...delivered, ...acks],
          );
        }
      }
    }
  }

  private checkFinal(): void {
    for (const v of this.h.final) {
      if (v.applied !== this.finals[0]!.applied) {
        this.report('not drained', `${v.member} applied only up to index ${v.applied} of ${this.finals[0]!.applied}`);
      }
    }
    for (const v of this.finals) {
      for (const c of v.consumers) {
        if (c.pending > 0 || c.waiting > 0) {
          this.report(
            'not drained',
            `after the drain ${v.member}'s consumer ${c.name} has ${c.pending} pending and ${c.waiting} waiting`,
          );
        }
      }
    }
    const first = this.finals[0];
    if (first === undefined) return;
    for (const v of this.finals.slice(1)) {
      const diff = describeDifference(first, v);
      if (diff !== null) this.report('replicas diverge', `at index ${v.applied}, ${diff}`);
    }
  }
}

function describeDifference(a: FinalPartitionView, b: FinalPartitionView): string | null {
  const parts = [
    ['messages', a.messages, b.messages],
    ['dead letters', a.deadLetters, b.deadLetters],
    ['consumers', a.consumers, b.consumers],
  ] as const;
  for (const [what, x, y] of parts) {
    const sx = JSON.stringify(x);
    const sy = JSON.stringify(y);
    if (sx === sy) continue;
    let i = 0;
    while (i < x.length && i < y.length && JSON.stringify(x[i]) === JSON.stringify(y[i])) i++;
    return `${a.member} and ${b.member} hold different ${what}: ${JSON.stringify(x[i] ?? 'nothing')} vs ${JSON.stringify(y[i] ?? 'nothing')} (${x.length} vs ${y.length})`;
  }
  return a.lastSeq === b.lastSeq
    ? null
    : `${a.member} and ${b.member} have last sequences ${a.lastSeq} and ${b.lastSeq}`;
}

function push<K, V>(map: Map<K, V[]>, k: K, v: V): void {
  const list = map.get(k);
  if (list === undefined) map.set(k, [v]);
  else list.push(v);
}
