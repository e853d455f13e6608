import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  AckRecord,
  ConsumerSpec,
  DeliveryRecord,
  FinalPartitionView,
  HistoryRecord,
  PublishRecord,
  QueueHistory,
} from './history.js';
import { checkQueueHistory, describeViolation, type QueueRule } from './queue-checker.js';

const CONSUMERS: ConsumerSpec[] = [
  { name: 'work', mode: 'competing', maxDeliver: 3 },
  { name: 'ordered', mode: 'ordered-by-key', maxDeliver: 3 },
];

const pub = (msgId: string, seq: number, index: number, key?: string, attempt = 1): PublishRecord => ({
  op: 'publish',
  client: 'p1',
  msgId,
  ...(key === undefined ? {} : { key }),
  attempt,
  issuedAt: index,
  step: index + 1,
  outcome: { kind: 'ok', seq, duplicate: attempt > 1, index },
});
const unknownPub = (msgId: string, step: number, key?: string): PublishRecord => ({
  op: 'publish',
  client: 'p1',
  msgId,
  ...(key === undefined ? {} : { key }),
  attempt: 1,
  issuedAt: step,
  step: step + 5,
  outcome: { kind: 'unknown', reason: 'timeout' },
});
const got = (
  consumer: string,
  seq: number,
  id: string,
  index: number,
  token: number,
  deliveries = 1,
  key?: string,
): DeliveryRecord => ({
  op: 'delivery',
  client: `${consumer}-c1`,
  consumer,
  step: index,
  index,
  seq,
  id,
  ...(key === undefined ? {} : { key }),
  token,
  deliveries,
});
const ack = (
  consumer: string,
  seq: number,
  token: number,
  index: number,
  kind: AckRecord['kind'] = 'ack',
  outcome: 'ok' | 'refused' | 'unknown' = 'ok',
): AckRecord => ({
  op: 'ack',
  client: `${consumer}-c1`,
  consumer,
  kind,
  seq,
  token,
  issuedAt: index - 1,
  step: index,
  outcome:
    outcome === 'ok'
      ? { kind: 'ok', index }
      : outcome === 'refused'
        ? { kind: 'refused', index, code: 'FAILED_PRECONDITION', reason: 'stale-delivery' }
        : { kind: 'unknown', reason: 'timeout' },
});

/** Three messages (two of key a), each delivered once to both consumers and acked. */
function cleanRecords(): HistoryRecord[] {
  return [
    pub('m1', 1, 10, 'a'),
    pub('m2', 2, 11),
    pub('m3', 3, 12, 'a'),
    got('work', 1, 'm1', 20, 101, 1, 'a'),
    got('work', 2, 'm2', 20, 102),
    got('work', 3, 'm3', 20, 103, 1, 'a'),
    ack('work', 1, 101, 21),
    ack('work', 2, 102, 21),
    ack('work', 3, 103, 21),
    got('ordered', 1, 'm1', 22, 201, 1, 'a'),
    got('ordered', 2, 'm2', 22, 202),
    ack('ordered', 1, 201, 23),
    ack('ordered', 2, 202, 23),
    got('ordered', 3, 'm3', 24, 203, 1, 'a'),
    ack('ordered', 3, 203, 25),
  ];
}

function view(member: string, over: Partial<FinalPartitionView> = {}): FinalPartitionView {
  return {
    member,
    applied: 30,
    lastSeq: 3,
    messages: [
      { seq: 1, id: 'm1', key: 'a' },
      { seq: 2, id: 'm2' },
      { seq: 3, id: 'm3', key: 'a' },
    ],
    deadLetters: [],
    consumers: [
      { name: 'work', ackFloor: 3, pending: 0, waiting: 0 },
      { name: 'ordered', ackFloor: 3, pending: 0, waiting: 0 },
    ],
    ...over,
  };
}

function history(records: HistoryRecord[], final: FinalPartitionView[] = [view('n1'), view('n2')]): QueueHistory {
  return { consumers: CONSUMERS, records, final };
}

function rules(h: QueueHistory): string[] {
  return [...new Set(checkQueueHistory(h).map((v) => v.rule))];
}

/** The history must be reported under `rule` (and the report must name it). */
function assertReports(h: QueueHistory, rule: QueueRule): void {
  const found = checkQueueHistory(h);
  const hit = found.find((v) => v.rule === rule);
  assert.ok(hit !== undefined, `expected ${rule}, got ${found.map((v) => v.rule).join(', ') || 'nothing'}`);
  assert.match(describeViolation(hit), new RegExp(`^${rule}: `));
}

describe('queue checker', () => {
  it('accepts a clean history, and one with an unknown publish that was stored and retried as a duplicate', () => {
    assert.deepEqual(rules(history(cleanRecords())), []);
    const records = [unknownPub('m1', 5, 'a'), { ...pub('m1', 1, 10, 'a', 2) }, ...cleanRecords().slice(1)];
    assert.deepEqual(rules(history(records)), []);
  });

  it('accepts redeliveries after an expiry, a refused stale ack and an unknown ack that landed', () => {
    const records = cleanRecords().filter((r) => !(r.op === 'ack' && r.consumer === 'work' && r.seq === 2));
    records.push(
      got('work', 2, 'm2', 26, 110, 2),
      ack('work', 2, 102, 27, 'ack', 'refused'),
      ack('work', 2, 110, 28, 'ack', 'unknown'),
    );
    assert.deepEqual(rules(history(records)), []);
  });

  it('accepts a message dead-lettered after maxDeliver deliveries, nak by nak', () => {
    const records = cleanRecords().filter((r) => !(r.op !== 'publish' && r.consumer === 'work' && r.seq === 2));
    records.push(
      got('work', 2, 'm2', 20, 102, 1),
      ack('work', 2, 102, 21, 'nak'),
      got('work', 2, 'm2', 22, 104, 2),
      ack('work', 2, 104, 23, 'nak'),
      got('work', 2, 'm2', 24, 105, 3),
      ack('work', 2, 105, 25, 'nak'),
    );
    const dead = [{ seq: 2, id: 'm2', consumer: 'work', reason: 'max-deliveries' as const, deliveries: 3 }];
    assert.deepEqual(
      rules(history(records, [view('n1', { deadLetters: dead }), view('n2', { deadLetters: dead })])),
      [],
    );
    assertReports(history(records, [view('n1', { deadLetters: dead }), view('n2')]), 'dead letter lost');
    assertReports(history(records, [view('n1'), view('n2')]), 'dead letter lost');
  });

  it('reports a publish answered with two different sequences (dedup forgotten)', () => {
    assertReports(history([...cleanRecords(), pub('m1', 4, 13, 'a', 2)]), 'dedup answer');
  });

  it('reports a msgId stored twice, in a replica or in deliveries', () => {
    const twice = view('n1', { messages: [...view('n1').messages, { seq: 4, id: 'm2' }], lastSeq: 4 });
    assertReports(history(cleanRecords(), [twice]), 'stored once');
    assertReports(history([...cleanRecords(), got('work', 4, 'm2', 40, 120)]), 'stored once');
  });

  it('reports an acknowledged publish missing from a replica', () => {
    const lossy = view('n2', { messages: view('n2').messages.filter((m) => m.seq !== 2) });
    assertReports(history(cleanRecords(), [view('n1'), lossy]), 'acknowledged publish lost');
  });

  it('reports a stored message a consumer never got', () => {
    const records = cleanRecords().filter((r) => !(r.op !== 'publish' && r.consumer === 'work' && r.seq === 3));
    assertReports(history(records), 'never delivered');
  });

  it('reports a delivered message that was never acked nor dead-lettered', () => {
    const records = cleanRecords().filter((r) => !(r.op === 'ack' && r.consumer === 'work' && r.seq === 3));
    assertReports(history(records), 'neither acked nor dead-lettered');
  });

  it('reports a delivery applied after the message was acked', () => {
    assertReports(history([...cleanRecords(), got('work', 1, 'm1', 40, 130, 2, 'a')]), 'delivered after final ack');
  });

  it('reports an ack with a stale token that succeeded', () => {
    const records = cleanRecords().filter((r) => !(r.op === 'ack' && r.consumer === 'work' && r.seq === 2));
    records.push(got('work', 2, 'm2', 26, 110, 2), ack('work', 2, 102, 27), ack('work', 2, 110, 28, 'ack', 'refused'));
    assertReports(history(records), 'stale token accepted');
  });

  it('reports two acks of one message with different tokens that both succeeded', () => {
    const records = [...cleanRecords(), ack('work', 2, 999, 29)];
    assertReports(history(records), 'acked twice');
  });

  it('reports delivery counts that do not grow, repeat a token or pass maxDeliver', () => {
    const base = cleanRecords().filter((r) => !(r.op === 'ack' && r.consumer === 'work' && r.seq === 2));
    assertReports(history([...base, got('work', 2, 'm2', 26, 110, 1), ack('work', 2, 110, 27)]), 'delivery count');
    assertReports(history([...base, got('work', 2, 'm2', 26, 102, 2), ack('work', 2, 102, 27)]), 'delivery count');
    assertReports(history([...base, got('work', 2, 'm2', 26, 110, 4), ack('work', 2, 110, 27)]), 'delivery count');
  });

  it('reports a later message of a key delivered to an ordered consumer while an earlier one is unacked', () => {
    // m3 (key a) delivered at 22 while m1 (key a), delivered at 22 too, is acked only at 23.
    const records = cleanRecords().map((r) =>
      r.op === 'delivery' && r.consumer === 'ordered' && r.seq === 3 ? { ...r, index: 22, step: 22 } : r,
    );
    assertReports(history(records), 'per-key order');
    // The same interleaving is fine for the competing consumer (it is in the clean history).
    assert.deepEqual(rules(history(cleanRecords())), []);
  });

  it('reports a later message of a key delivered before an earlier one was delivered at all', () => {
    const records = cleanRecords().filter((r) => !(r.op !== 'publish' && r.consumer === 'ordered' && r.seq === 1));
    records.push(got('ordered', 1, 'm1', 26, 205, 1, 'a'), ack('ordered', 1, 205, 27));
    assertReports(history(records), 'per-key order');
  });

  it('does not blame order on an ack whose outcome was unknown when the later message came', () => {
    const records = cleanRecords().map((r) =>
      r.op === 'ack' && r.consumer === 'ordered' && r.seq === 1
        ? { ...r, issuedAt: 21, outcome: { kind: 'unknown' as const, reason: 'timeout' } }
        : r,
    );
    assert.deepEqual(rules(history(records)), []);
  });

  it('reports a consumer that did not drain and replicas that diverge', () => {
    const stuck = view('n1', { consumers: [{ name: 'work', ackFloor: 2, pending: 1, waiting: 0 }] });
    assertReports(history(cleanRecords(), [stuck]), 'not drained');
    const other = view('n2', { consumers: [{ name: 'work', ackFloor: 2, pending: 0, waiting: 0 }] });
    assertReports(history(cleanRecords(), [view('n1'), other]), 'replicas diverge');
  });

  it('reports a member that did not catch up, without comparing its state', () => {
    const behind = view('n2', { applied: 20, messages: [], lastSeq: 0 });
    assert.deepEqual(rules(history(cleanRecords(), [view('n1'), behind])), ['not drained']);
  });
});
