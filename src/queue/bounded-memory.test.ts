import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePartitionCommand } from './command-codec.js';
import { type ConsumerTableLike, type ConsumerTables, PartitionStateMachine } from './partition-state-machine.js';
import type { AckEntry, ConsumerConfig, PartitionCommand, StreamConfig } from './types.js';

/**
 * Issue 12: "a consumer that never acks one message for a long simulated time: disk and memory
 * stay bounded" — the log's side. A stub consumer holds message 1 pending forever (its ack
 * floor never moves); a day of simulated traffic flows through the partition. Whatever the
 * consumer does, the stream's limits keep removing messages (the removal of the stuck one is
 * reported to the consumers, who drop it), and the snapshot — what a compacted Raft log keeps on
 * disk — stays the size of the retained window, not of the traffic.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

function stuckConsumer() {
  const removed = new Set<number>();
  const table: ConsumerTableLike = {
    size: 1,
    create: () => assert.fail('not used'),
    delete: () => {},
    fetch: () => [],
    ack: () => [],
    tick: () => 0,
    // Message 1 is never acked: the floor stays at 1 until message 1 itself is gone.
    messageRemoved: (seq) => removed.add(seq),
    workQueueFloor: () => (removed.has(1) ? Number.POSITIVE_INFINITY : 1),
    doneWith: () => false,
    info: () => assert.fail('not used'),
    snapshot: () => ({ pending: removed.has(1) ? [] : [1] }),
  };
  const tables: ConsumerTables = { create: () => table, restore: () => table };
  return { tables, removed };
}

function runDay(config: Partial<StreamConfig>) {
  const { tables, removed } = stuckConsumer();
  const sm = new PartitionStateMachine({ consumers: tables });
  const apply = (cmd: PartitionCommand) => {
    const o = sm.applyCommand(encodePartitionCommand(cmd));
    if (!o.ok) assert.fail(o.error.message);
    return o.result;
  };
  apply({
    type: 'stream-create',
    now: 0,
    partition: 0,
    config: { name: 'jobs', subjects: ['jobs'], ...config } as StreamConfig,
  });
  const payload = new Uint8Array(100);
  let maxMessages = 0;
  let maxSnapshot = 0;
  let published = 0;
  // One publish of 10 messages (each with a msgId) every 30 s, a tick every minute, for a day.
  for (let now = 1; now < DAY_MS; now += 30_000) {
    const messages = Array.from({ length: 10 }, () => ({ subject: 'jobs', payload, msgId: `m${published++}` }));
    apply({ type: 'publish', now, messages });
    if (now % 60_000 === 1) apply({ type: 'tick', now });
    maxMessages = Math.max(maxMessages, sm.info().messages);
    if (now % 3_600_000 === 1) maxSnapshot = Math.max(maxSnapshot, sm.snapshot().length);
  }
  return { sm, removed, maxMessages, maxSnapshot, published };
}

describe('bounded memory and disk (the log side)', () => {
  it('work-queue: a worker that keeps one message in progress for a day does not hold back the acked ones (real consumer)', () => {
    const sm = new PartitionStateMachine();
    const apply = (cmd: PartitionCommand) => {
      const o = sm.applyCommand(encodePartitionCommand(cmd));
      if (!o.ok) assert.fail(o.error.message);
      return o.result;
    };
    apply({
      type: 'stream-create',
      now: 0,
      partition: 0,
      config: { name: 'jobs', subjects: ['jobs'], retention: 'work-queue' } as unknown as StreamConfig,
    });
    apply({ type: 'consumer-create', now: 0, config: { name: 'w', ackWaitMs: 60_000 } as ConsumerConfig });
    const payload = new Uint8Array(100);
    let stuckToken: number | undefined;
    let maxMessages = 0;
    let maxSnapshot = 0;
    for (let now = 1; now < DAY_MS; now += 30_000) {
      apply({ type: 'publish', now, messages: Array.from({ length: 10 }, () => ({ subject: 'jobs', payload })) });
      const fetched = apply({ type: 'fetch', now, consumer: 'w', max: 100, maxBytes: 1 << 20 });
      assert.ok(fetched.type === 'fetch');
      const acks: AckEntry[] = fetched.deliveries.map((d) => {
        if (d.message.seq === 1) stuckToken = d.token;
        return { kind: d.message.seq === 1 ? 'progress' : 'ack', seq: d.message.seq, token: d.token };
      });
      // Message 1 stays in progress forever: its worker renews it every 30 s and never acks it.
      if (!acks.some((a) => a.seq === 1) && stuckToken !== undefined)
        acks.push({ kind: 'progress', seq: 1, token: stuckToken });
      apply({ type: 'ack', now, consumer: 'w', acks });
      if (now % 60_000 === 1) apply({ type: 'tick', now });
      maxMessages = Math.max(maxMessages, sm.info().messages);
      if (now % 3_600_000 === 1) maxSnapshot = Math.max(maxSnapshot, sm.snapshot().length);
    }
    const info = sm.consumerInfo('w');
    assert.equal(info.ackFloor, 0, 'message 1 is still unacked after a day');
    assert.equal(info.pending, 1);
    assert.equal(sm.deadLetters().length, 0);
    // Message 1 plus one publish's worth, never the day's 28,800 messages.
    assert.ok(maxMessages <= 11, `at most ${maxMessages} messages held`);
    assert.equal(sm.info().messages, 1);
    assert.ok(maxSnapshot < 5_000, `snapshot peaked at ${maxSnapshot} bytes`);
  });

  it('age retention keeps removing while a consumer never acks message 1; the snapshot stays the window', () => {
    const { sm, removed, maxMessages, maxSnapshot, published } = runDay({ maxAgeMs: 10 * 60_000 });
    assert.equal(published, 28_800);
    assert.ok(removed.has(1), 'the stuck message was removed by age and the consumers were told');
    // 10 minutes of traffic (200 messages); age retention runs on every publish.
    assert.ok(maxMessages <= 200 + 10, `at most ${maxMessages} messages held`);
    // ~200 messages of ~130 bytes encoded, plus the dedup window's 2 minutes of ids.
    assert.ok(maxSnapshot < 60_000, `snapshot peaked at ${maxSnapshot} bytes`);
    assert.ok(sm.info().firstSeq > 28_800 - 210);
  });

  it('a work-queue stream whose floor never moves is still bounded by its limits (discard old)', () => {
    const { maxMessages, maxSnapshot, removed } = runDay({ retention: 'work-queue', maxMessages: 1000 });
    assert.equal(maxMessages, 1000);
    assert.ok(removed.has(1));
    assert.ok(maxSnapshot < 200_000, `snapshot peaked at ${maxSnapshot} bytes`);
  });
});
