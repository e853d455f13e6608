import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConsumerConfig } from './consumer-config.js';
import { ConsumerTable } from './consumer-table.js';
import { MessageLog, type NewMessage } from './message-log.js';
import type { AckEntry, AckOutcome, DeadLetter, Delivery } from './types.js';

const LIMITS = { maxMessages: 0, maxBytes: 0, maxAgeMs: 0, discard: 'old', compactByKey: false } as const;

function setup(config: Record<string, unknown> | undefined = {}) {
  const dead: Omit<DeadLetter, 'seq'>[] = [];
  const dlq = { deadLetter: (d: Omit<DeadLetter, 'seq'>) => void dead.push(d) };
  let table: ConsumerTable | undefined;
  const log = new MessageLog(LIMITS, (m) => table?.messageRemoved(m.seq));
  table = new ConsumerTable(log, dlq, { stream: 'orders', partition: 2 });
  if (config !== undefined) table.create(validateConsumerConfig({ name: 'c', ...config }), 0);
  const publish = (fields: Partial<NewMessage> & { size?: number } = {}, now = 0) => {
    const { size = 1, ...rest } = fields;
    return log.append({ subject: 'orders.new', payload: new Uint8Array(size), ...rest }, now).seq;
  };
  return { log, table, dead, dlq, publish };
}

const seqs = (ds: readonly Delivery[]) => ds.map((d) => d.message.seq);
const code = (o: AckOutcome | undefined) => (o === undefined ? 'none' : 'ok' in o ? 'ok' : o.error.code);
function settle(table: ConsumerTable, now: number, d: Delivery, kind: AckEntry['kind'] = 'ack', extra = {}) {
  return table.ack('c', now, [{ kind, seq: d.message.seq, token: d.token, ...extra }])[0];
}

describe('consumer table: lifecycle', () => {
  it('create is idempotent for the same config, ALREADY_EXISTS for another; delete and unknown names are NOT_FOUND', () => {
    const { table } = setup(undefined);
    const info = table.create(validateConsumerConfig({ name: 'c' }), 0);
    assert.deepEqual(
      { stream: info.stream, partition: info.partition, pending: info.pending },
      {
        stream: 'orders',
        partition: 2,
        pending: 0,
      },
    );
    assert.deepEqual(table.create(validateConsumerConfig({ name: 'c' }), 5), info);
    assert.throws(() => table.create(validateConsumerConfig({ name: 'c', maxDeliver: 3 }), 0), {
      code: 'ALREADY_EXISTS',
    });
    table.delete('c');
    assert.throws(() => table.delete('c'), { code: 'NOT_FOUND' });
    assert.throws(() => table.fetch('c', 0, 1, 100), { code: 'NOT_FOUND' });
    assert.throws(() => table.ack('c', 0, []), { code: 'NOT_FOUND' });
    assert.throws(() => table.info('c'), { code: 'NOT_FOUND' });
  });

  it('starts where deliverFrom says', () => {
    const { table, publish } = setup(undefined);
    publish({}, 100);
    publish({}, 200);
    publish({}, 300);
    const start = (name: string, deliverFrom: unknown) => {
      table.create(validateConsumerConfig({ name, deliverFrom }), 0);
      return seqs(table.fetch(name, 0, 10, 1000));
    };
    assert.deepEqual(start('first', { from: 'first' }), [1, 2, 3]);
    assert.deepEqual(start('last', { from: 'last' }), [3]);
    assert.deepEqual(start('new', { from: 'new' }), []);
    assert.deepEqual(start('seq', { from: 'sequence', seq: 2 }), [2, 3]);
    assert.deepEqual(start('time', { from: 'time', time: 150 }), [2, 3]);
    publish({}, 400);
    assert.deepEqual(seqs(table.fetch('new', 0, 10, 1000)), [4]);
    assert.equal(table.info('seq').ackFloor, 1, 'skipped messages count as done');
  });

  it('fetch validates its limits', () => {
    const { table } = setup();
    assert.throws(() => table.fetch('c', 0, 0, 100), { code: 'INVALID_ARGUMENT', message: /max is 0/ });
    assert.throws(() => table.fetch('c', 0, 1, 0), { code: 'INVALID_ARGUMENT', message: /maxBytes/ });
  });
});

describe('consumer table: delivery and acks', () => {
  it('delivers in sequence order with deliveries 1, rising tokens and deadline now + ackWait, within max and maxBytes', () => {
    const { table, publish } = setup({ ackWaitMs: 1000 });
    for (let i = 0; i < 5; i++) publish({ size: 10 });
    const first = table.fetch('c', 50, 2, 1000);
    assert.deepEqual(seqs(first), [1, 2]);
    assert.deepEqual(
      first.map((d) => [d.deliveries, d.deadline]),
      [
        [1, 1050],
        [1, 1050],
      ],
    );
    assert.ok(first[0]!.token < first[1]!.token);
    assert.deepEqual(seqs(table.fetch('c', 50, 10, 25)), [3, 4], 'bytes ≤ maxBytes');
    assert.deepEqual(seqs(table.fetch('c', 50, 10, 1)), [5], 'at least one, even over maxBytes');
    assert.equal(table.info('c').pending, 5);
  });

  it('an ack removes the delivery and advances the ack floor over everything done; a second ack is NOT_FOUND', () => {
    const { table, publish } = setup();
    for (let i = 0; i < 3; i++) publish();
    const [d1, d2, d3] = table.fetch('c', 0, 3, 100);
    assert.equal(code(settle(table, 1, d2!)), 'ok');
    assert.equal(table.info('c').ackFloor, 0, 'message 1 is still pending');
    assert.equal(code(settle(table, 1, d1!)), 'ok');
    assert.equal(table.info('c').ackFloor, 2);
    assert.equal(code(settle(table, 1, d1!)), 'NOT_FOUND');
    assert.equal(code(table.ack('c', 1, [{ kind: 'ack', seq: 99, token: 1 }])[0]), 'NOT_FOUND');
    assert.equal(code(settle(table, 1, d3!)), 'ok');
    assert.deepEqual(table.info('c').ackFloor, 3);
    assert.equal(table.info('c').pending, 0);
  });

  it("refuses a stale worker's late ack after redelivery (FAILED_PRECONDITION stale-delivery); the new delivery is unaffected", () => {
    const { table, publish } = setup({ ackWaitMs: 1000 });
    publish();
    const [old] = table.fetch('c', 0, 1, 100);
    assert.deepEqual(table.fetch('c', 999, 1, 100), [], 'not redelivered before the ack wait expires');
    const [again] = table.fetch('c', 1000, 1, 100);
    assert.deepEqual([again!.deliveries, again!.token > old!.token], [2, true]);
    const late = settle(table, 1001, old!);
    assert.ok(late !== undefined && 'error' in late);
    assert.equal(late.error.code, 'FAILED_PRECONDITION');
    assert.deepEqual(late.error.details, { reason: 'stale-delivery', seq: 1, deliveries: 2 });
    for (const kind of ['nak', 'progress', 'term'] as const)
      assert.equal(code(settle(table, 1001, old!, kind)), 'FAILED_PRECONDITION');
    assert.deepEqual(table.info('c').pending, 1);
    assert.equal(table.info('c').redelivered, 1);
    assert.equal(code(settle(table, 1002, again!)), 'ok');
    assert.equal(table.info('c').pending, 0);
  });

  it('a late ack still counts while the message has not been redelivered', () => {
    const { table, publish } = setup({ ackWaitMs: 1000 });
    publish();
    const [d] = table.fetch('c', 0, 1, 100);
    assert.equal(code(settle(table, 5000, d!)), 'ok');
    assert.deepEqual(table.fetch('c', 5000, 1, 100), []);
  });

  it('due redeliveries come first, in sequence order, then new messages', () => {
    const { table, publish } = setup({ ackWaitMs: 1000 });
    for (let i = 0; i < 3; i++) publish();
    const [, d2, d3] = table.fetch('c', 0, 3, 100);
    publish();
    settle(table, 10, d3!, 'nak');
    settle(table, 10, d2!, 'nak');
    assert.deepEqual(
      table.fetch('c', 10, 10, 100).map((d) => [d.message.seq, d.deliveries]),
      [
        [2, 2],
        [3, 2],
        [4, 1],
      ],
    );
    assert.deepEqual(
      table.fetch('c', 1000, 10, 100).map((d) => [d.message.seq, d.deliveries]),
      [[1, 2]],
    );
  });

  it('progress extends the deadline by the ack wait', () => {
    const { table, publish } = setup({ ackWaitMs: 1000 });
    publish();
    const [d] = table.fetch('c', 0, 1, 100);
    assert.equal(code(settle(table, 800, d!, 'progress')), 'ok');
    assert.deepEqual(table.fetch('c', 1500, 1, 100), []);
    assert.deepEqual(seqs(table.fetch('c', 1800, 1, 100)), [1]);
  });

  it('nak redelivers at once, after its delay, or after the backoff (backoff[n-1] after the n-th failure, the last repeats)', () => {
    const { table, publish } = setup({ ackWaitMs: 1000, backoffMs: [100, 500] });
    publish();
    publish();
    const [a, b] = table.fetch('c', 0, 2, 100);
    settle(table, 0, a!, 'nak', { delayMs: 0 });
    settle(table, 0, b!, 'nak', { delayMs: 300 });
    const [a2] = table.fetch('c', 0, 5, 100);
    assert.deepEqual([a2!.message.seq, a2!.deliveries], [1, 2], 'delay 0: at once');
    assert.deepEqual(seqs(table.fetch('c', 299, 5, 100)), []);
    const [b2] = table.fetch('c', 300, 5, 100);
    assert.deepEqual(seqs([b2!]), [2]);
    assert.equal(code(settle(table, 300, b2!, 'nak', { delayMs: -5 })), 'INVALID_ARGUMENT');
    assert.equal(code(settle(table, 300, b2!)), 'ok');
    // a2 (2nd delivery) expires at 1000; backoff[1] = 500 → due at 1500.
    assert.deepEqual(seqs(table.fetch('c', 1499, 5, 100)), []);
    const [a3] = table.fetch('c', 1500, 5, 100);
    assert.deepEqual([a3!.message.seq, a3!.deliveries], [1, 3]);
    // nak without delay after the 3rd delivery: the last backoff (500) repeats.
    settle(table, 1600, a3!, 'nak');
    assert.deepEqual(seqs(table.fetch('c', 2099, 5, 100)), []);
    assert.deepEqual(seqs(table.fetch('c', 2100, 1, 100)), [1]);
  });
});

describe('consumer table: dead letters', () => {
  it('a poison message is dead-lettered after maxDeliver deliveries with its count and last error, never dropped', () => {
    const { table, publish, dead } = setup({ maxDeliver: 3, ackWaitMs: 1000 });
    publish();
    publish();
    let now = 0;
    for (let n = 1; n <= 3; n++) {
      const [d] = table.fetch('c', now, 1, 100);
      assert.deepEqual([d!.message.seq, d!.deliveries], [1, n]);
      assert.equal(code(settle(table, now, d!, 'nak', { error: `boom ${n}` })), 'ok');
      now += 10;
    }
    assert.equal(dead.length, 1);
    assert.deepEqual(
      { seq: dead[0]!.message.seq, ...dead[0]!, message: undefined },
      {
        seq: 1,
        message: undefined,
        consumer: 'c',
        deliveries: 3,
        reason: 'max-deliveries',
        lastError: 'boom 3',
        time: 20,
      },
    );
    assert.deepEqual(seqs(table.fetch('c', now, 5, 100)), [2]);
    assert.equal(table.info('c').ackFloor, 1);
  });

  it('an expired last delivery is dead-lettered by tick (counted) or instead of being redelivered by fetch', () => {
    const { table, publish, dead } = setup({ maxDeliver: 1, ackWaitMs: 1000 });
    publish();
    publish();
    const [a, b] = table.fetch('c', 0, 2, 100);
    settle(table, 0, b!, 'nak', { error: 'bad input' });
    assert.equal(dead.length, 1, 'a nak of the last delivery dead-letters at once');
    assert.equal(table.tick(999), 0);
    assert.equal(table.tick(1000), 1);
    assert.deepEqual(
      dead.map((d) => [d.message.seq, d.deliveries, d.reason, d.lastError]),
      [
        [2, 1, 'max-deliveries', 'bad input'],
        [1, 1, 'max-deliveries', undefined],
      ],
    );
    assert.equal(code(settle(table, 1000, a!)), 'NOT_FOUND');
    publish();
    const [c] = table.fetch('c', 2000, 5, 100);
    assert.deepEqual(table.fetch('c', 3000, 5, 100), [], 'fetch dead-letters instead of redelivering');
    assert.deepEqual([dead.length, dead[2]!.message.seq, c!.message.seq], [3, 3, 3]);
    assert.equal(table.info('c').ackFloor, 3);
  });

  it('term dead-letters at once with the reason terminated', () => {
    const { table, publish, dead } = setup();
    publish();
    const [d] = table.fetch('c', 0, 1, 100);
    assert.equal(code(settle(table, 7, d!, 'term', { error: 'unparseable' })), 'ok');
    assert.deepEqual(
      dead.map((x) => [x.message.seq, x.deliveries, x.reason, x.lastError, x.time]),
      [[1, 1, 'terminated', 'unparseable', 7]],
    );
    assert.equal(table.info('c').pending, 0);
  });
});

describe('consumer table: delays, flow control, order', () => {
  it('a delayed message is not delivered before deliverAt and does not hold back later messages', () => {
    const { table, publish } = setup();
    publish({ deliverAt: 5000 });
    publish();
    assert.deepEqual(seqs(table.fetch('c', 0, 10, 100)), [2]);
    assert.deepEqual(seqs(table.fetch('c', 4999, 10, 100)), []);
    assert.equal(table.info('c').ackFloor, 0, 'the delayed message is not done');
    assert.deepEqual(seqs(table.fetch('c', 5000, 10, 100)), [1]);
  });

  it('never more than maxAckPending unacked deliveries; redeliveries need no new credit', () => {
    const { table, publish } = setup({ maxAckPending: 2, ackWaitMs: 1000 });
    for (let i = 0; i < 5; i++) publish();
    const [d1] = table.fetch('c', 0, 1, 100);
    assert.deepEqual(seqs(table.fetch('c', 0, 10, 100)), [2]);
    assert.deepEqual(table.fetch('c', 0, 10, 100), []);
    settle(table, 0, d1!);
    assert.deepEqual(seqs(table.fetch('c', 0, 10, 100)), [3]);
    assert.deepEqual(seqs(table.fetch('c', 1000, 10, 100)), [2, 3], 'expired deliveries come back at the limit');
    assert.equal(table.info('c').pending, 2);
  });

  it('ordered-by-key: a pending message of key K holds back later messages of K only', () => {
    const { table, publish } = setup({ mode: 'ordered-by-key', ackWaitMs: 1000 });
    publish({ key: 'K' }); // 1
    publish({ key: 'K' }); // 2
    publish({ key: 'L' }); // 3
    publish(); // 4: no key
    publish({ key: 'K' }); // 5
    publish(); // 6
    const first = table.fetch('c', 0, 10, 100);
    assert.deepEqual(seqs(first), [1, 3, 4, 6]);
    settle(table, 0, first[0]!, 'nak', { delayMs: 100 });
    assert.deepEqual(seqs(table.fetch('c', 50, 10, 100)), [], 'waiting for redelivery still holds K');
    const [k1] = table.fetch('c', 100, 10, 100);
    assert.deepEqual([k1!.message.seq, k1!.deliveries], [1, 2]);
    settle(table, 100, k1!);
    const [k2] = table.fetch('c', 100, 10, 100);
    assert.deepEqual(seqs([k2!]), [2]);
    settle(table, 100, k2!, 'term');
    assert.deepEqual(seqs(table.fetch('c', 100, 10, 100)), [5]);
  });

  it('ordered-by-key: a delayed message of K holds back later K messages, not other keys', () => {
    const { table, publish } = setup({ mode: 'ordered-by-key' });
    publish({ key: 'K', deliverAt: 1000 });
    publish({ key: 'K' });
    publish({ key: 'L' });
    assert.deepEqual(seqs(table.fetch('c', 0, 10, 100)), [3]);
    assert.deepEqual(seqs(table.fetch('c', 1000, 10, 100)), [1]);
  });

  it('competing mode promises no order per key', () => {
    const { table, publish } = setup();
    publish({ key: 'K' });
    publish({ key: 'K' });
    assert.deepEqual(seqs(table.fetch('c', 0, 10, 100)), [1, 2]);
  });

  it('a filter subject delivers only matching messages; the others count as done', () => {
    const { table, publish } = setup({ filterSubject: 'orders.*.eu' });
    publish({ subject: 'orders.new.eu' });
    publish({ subject: 'orders.new.us' });
    publish({ subject: 'orders.paid.eu' });
    const got = table.fetch('c', 0, 10, 100);
    assert.deepEqual(seqs(got), [1, 3]);
    for (const d of got) settle(table, 0, d);
    assert.equal(table.info('c').ackFloor, 3);
  });
});

describe('consumer table: removals, floors, idleness', () => {
  it('a message removed by retention leaves pending and waiting; its key moves on; a late ack is NOT_FOUND', () => {
    const { table, publish, log, dead } = setup({ mode: 'ordered-by-key' });
    publish({ key: 'K' });
    publish({ key: 'K' });
    publish({ deliverAt: 1000 });
    const [d] = table.fetch('c', 0, 10, 100);
    log.remove(1);
    log.remove(3);
    assert.equal(table.info('c').pending, 0);
    assert.equal(code(settle(table, 0, d!)), 'NOT_FOUND');
    assert.deepEqual(seqs(table.fetch('c', 2000, 10, 100)), [2]);
    assert.equal(dead.length, 0, 'removal is not a dead letter');
  });

  it('the work-queue floor is the smallest sequence some consumer has not finished', () => {
    const { table, publish } = setup();
    table.create(validateConsumerConfig({ name: 'd' }), 0);
    for (let i = 0; i < 4; i++) publish();
    assert.equal(table.workQueueFloor(), 1);
    const cs = table.fetch('c', 0, 10, 100);
    for (const d of cs) settle(table, 0, d);
    assert.equal(table.workQueueFloor(), 1, 'd has acked nothing');
    const ds = table.fetch('d', 0, 10, 100);
    table.ack('d', 0, [
      { kind: 'ack', seq: 1, token: ds[0]!.token },
      { kind: 'term', seq: 2, token: ds[1]!.token },
    ]);
    assert.equal(table.workQueueFloor(), 3);
    table.delete('d');
    assert.equal(table.workQueueFloor(), 5);
  });

  it('tick removes ephemeral consumers idle past inactiveMs; fetches and acks keep them; durables stay', () => {
    const { table, publish } = setup();
    table.create(validateConsumerConfig({ name: 'e', durable: false, inactiveMs: 1000 }), 0);
    publish();
    table.fetch('e', 900, 1, 100);
    table.tick(1800);
    assert.equal(table.info('e').pending, 1);
    table.ack('e', 1850, []);
    table.tick(2849);
    assert.equal(table.info('e').pending, 1);
    table.tick(2850);
    assert.throws(() => table.info('e'), { code: 'NOT_FOUND' });
    table.tick(10_000_000);
    assert.equal(table.info('c').pending, 0);
  });

  it('tokens are never reused, not even by a consumer re-created under the same name', () => {
    const { table, publish } = setup();
    publish();
    const [old] = table.fetch('c', 0, 1, 100);
    table.delete('c');
    table.create(validateConsumerConfig({ name: 'c' }), 0);
    const [fresh] = table.fetch('c', 0, 1, 100);
    assert.ok(fresh!.token > old!.token);
    assert.equal(code(settle(table, 0, old!)), 'FAILED_PRECONDITION');
  });
});

describe('consumer table: snapshots', () => {
  it('snapshot → restore behaves identically, and the snapshot is plain, deterministic data', () => {
    const { table, publish, log, dlq } = setup({
      mode: 'ordered-by-key',
      ackWaitMs: 1000,
      maxDeliver: 2,
      backoffMs: [300],
    });
    table.create(validateConsumerConfig({ name: 'd', filterSubject: 'orders.>', maxAckPending: 2 }), 0);
    for (let i = 0; i < 8; i++) publish({ key: `k${i % 3}`, ...(i === 5 ? { deliverAt: 2500 } : {}) });
    const c1 = table.fetch('c', 0, 2, 100);
    const d1 = table.fetch('d', 0, 5, 100);
    settle(table, 10, c1[0]!, 'nak', { error: 'e1', delayMs: 700 });
    table.ack('d', 10, [{ kind: 'progress', seq: d1[0]!.message.seq, token: d1[0]!.token }]);
    table.fetch('c', 400, 3, 100);

    const data = table.snapshot();
    const restored = ConsumerTable.restore(JSON.parse(JSON.stringify(data)), log, dlq, {
      stream: 'orders',
      partition: 2,
    });
    assert.deepEqual(restored.snapshot(), data);
    const trace = (t: ConsumerTable) => {
      const out: unknown[] = [];
      for (const now of [500, 1000, 1400, 2000, 2600, 4000, 6000]) {
        for (const name of ['c', 'd']) {
          const got = t.fetch(name, now, 3, 100);
          out.push(got.map((d) => [d.message.seq, d.deliveries, d.token, d.deadline]));
          if (got[0] !== undefined)
            out.push(t.ack(name, now, [{ kind: 'ack', seq: got[0].message.seq, token: got[0].token }]).map(code));
        }
        out.push(t.tick(now), t.info('c'), t.info('d'), t.workQueueFloor());
      }
      return out;
    };
    assert.deepEqual(trace(restored), trace(table));
    assert.deepEqual(restored.snapshot(), table.snapshot());
  });

  it('a message rescheduled after a restore comes back on time (regression: heap order must not follow mutated times)', () => {
    const { table, publish, log, dlq } = setup({ maxDeliver: 2, ackWaitMs: 100, maxAckPending: 2 });
    publish();
    publish({ deliverAt: 1001 });
    publish();
    const [d1] = table.fetch('c', 1000, 1, 1);
    table.fetch('c', 1000, 1, 1);
    const restored = ConsumerTable.restore(table.snapshot(), log, dlq);
    restored.fetch('c', 1000, 1, 1);
    assert.equal(code(restored.ack('c', 1000, [{ kind: 'nak', seq: 1, token: d1!.token }])[0]), 'ok');
    assert.deepEqual(
      restored.fetch('c', 1000, 1, 1).map((d) => [d.message.seq, d.deliveries]),
      [[1, 2]],
    );
  });

  it('time never goes backwards: a delivery that came due stays due under a lagging clock, and after a restore', () => {
    const { table, publish, log, dlq } = setup({ ackWaitMs: 1000 });
    publish();
    table.fetch('c', 0, 1, 100);
    assert.equal(table.tick(1000), 0, 'the delivery came due at 1000');
    const restored = ConsumerTable.restore(table.snapshot(), log, dlq);
    // A new leader whose clock is behind stamps 900: both tables still count the time as 1000.
    for (const t of [table, restored]) {
      assert.deepEqual(
        t.fetch('c', 900, 5, 100).map((d) => [d.message.seq, d.deliveries, d.deadline]),
        [[1, 2, 2000]],
      );
    }
  });

  it('restore refuses data that is not a consumer table snapshot', () => {
    const { log, dlq } = setup();
    assert.throws(() => ConsumerTable.restore({ version: 9 }, log, dlq), { code: 'INVALID_ARGUMENT' });
  });
});
