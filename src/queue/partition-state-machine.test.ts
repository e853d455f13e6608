import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePartitionCommand } from './command-codec.js';
import { validatePartitionCommand } from './commands.js';
import { partitionOfKey } from './partition-key.js';
import { type ConsumerTableLike, type ConsumerTables, PartitionStateMachine } from './partition-state-machine.js';
import type { AckOutcome, PartitionOutcome, PartitionResult, PublishOutcome, StreamConfig } from './types.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function ok(o: PartitionOutcome): PartitionResult {
  if (!o.ok) assert.fail(`expected ok, got ${o.error.code}: ${o.error.message}`);
  return o.result;
}

function machine(config: Partial<StreamConfig> = {}, partition = 0, consumers?: ConsumerTables) {
  const sm = new PartitionStateMachine(consumers === undefined ? {} : { consumers });
  ok(
    sm.applyCommand({ type: 'stream-create', now: 0, partition, config: { name: 's', subjects: ['s.>'], ...config } }),
  );
  return sm;
}

function publish(
  sm: PartitionStateMachine,
  now: number,
  messages: object[],
  atomic = false,
): readonly PublishOutcome[] {
  const r = ok(
    sm.applyCommand({
      type: 'publish',
      now,
      messages: messages.map((m) => ({ subject: 's.x', payload: new Uint8Array(0), ...m })),
      ...(atomic ? { atomic } : {}),
    }),
  );
  assert.equal(r.type, 'publish');
  return (r as Extract<PartitionResult, { type: 'publish' }>).outcomes;
}

const seqOf = (o: PublishOutcome) => ('seq' in o ? o.seq : o.error.code);

describe('PartitionStateMachine', () => {
  it('refuses commands before stream-create with NOT_FOUND, and a second create with another config', () => {
    const sm = new PartitionStateMachine();
    const o = sm.applyCommand({ type: 'tick', now: 1 });
    assert.equal(!o.ok && o.error.code, 'NOT_FOUND');
    const cfg = { name: 's', partitions: 2 };
    ok(sm.applyCommand({ type: 'stream-create', now: 0, partition: 1, config: cfg }));
    ok(sm.applyCommand({ type: 'stream-create', now: 5, partition: 1, config: cfg }));
    const again = sm.applyCommand({ type: 'stream-create', now: 0, partition: 1, config: { ...cfg, maxMessages: 3 } });
    assert.equal(!again.ok && again.error.code, 'ALREADY_EXISTS');
    assert.equal(sm.info().partition, 1);
  });

  it('publishes with sequences and reports the last sequence', () => {
    const sm = machine();
    assert.deepEqual(publish(sm, 10, [{}, {}]).map(seqOf), [1, 2]);
    const info = sm.info();
    assert.equal(info.messages, 2);
    assert.equal(info.lastSeq, 2);
    assert.equal(sm.messages.get(2)?.time, 10);
  });

  it('refuses a message that is too large, on another subject, of another partition, or delayed too long', () => {
    const sm = machine({ maxMessageBytes: 10, maxDelayMs: 1000, partitions: 4 }, 0);
    const otherKey = ['a', 'b', 'c', 'd', 'e', 'f'].find((k) => partitionOfKey(k, 4) !== 0)!;
    const ownKey = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].find((k) => partitionOfKey(k, 4) === 0)!;
    const out = publish(sm, 100, [
      { payload: new Uint8Array(11) },
      { payload: new Uint8Array(8), headers: { ab: 'c' } },
      { subject: 'other' },
      { key: otherKey },
      { deliverAt: 1101 },
      { deliverAt: 1100, key: ownKey },
    ]);
    const errors = out.map((o) => ('error' in o ? `${o.error.code} ${o.error.message}` : o.seq));
    assert.match(String(errors[0]), /INVALID_ARGUMENT messages\[0\] is 11 bytes .* maxMessageBytes 10/);
    assert.match(String(errors[1]), /11 bytes/);
    assert.match(String(errors[2]), /subject other is not one of stream s's subjects \(s\.>\)/);
    assert.match(String(errors[3]), /belongs to partition/);
    assert.match(String(errors[4]), /maxDelayMs 1000/);
    assert.equal(errors[5], 1);
  });

  it('deduplicates by msgId within the window: the first sequence, duplicate: true, nothing stored', () => {
    const sm = machine({ dedupWindowMs: 100 });
    assert.deepEqual(publish(sm, 1000, [{ msgId: 'a' }]), [{ seq: 1 }]);
    assert.deepEqual(publish(sm, 1099, [{ msgId: 'a' }]), [{ seq: 1, duplicate: true }]);
    assert.equal(sm.info().messages, 1);
    assert.deepEqual(publish(sm, 1100, [{ msgId: 'a' }]), [{ seq: 2 }]);
    // A zero window remembers nothing.
    const none = machine({ dedupWindowMs: 0 });
    publish(none, 1, [{ msgId: 'a' }]);
    assert.deepEqual(publish(none, 1, [{ msgId: 'a' }]), [{ seq: 2 }]);
  });

  it('expectedLastSeq: FAILED_PRECONDITION with the actual last sequence; a duplicate is answered before it', () => {
    const sm = machine();
    publish(sm, 1, [{ msgId: 'm' }]);
    const [bad] = publish(sm, 1, [{ expectedLastSeq: 0 }]);
    assert.ok(bad !== undefined && 'error' in bad);
    assert.equal(bad.error.code, 'FAILED_PRECONDITION');
    assert.match(bad.error.message, /expectedLastSeq 0 but the last sequence is 1/);
    assert.deepEqual(bad.error.details, { expectedLastSeq: 0, lastSeq: 1 });
    assert.deepEqual(publish(sm, 1, [{ expectedLastSeq: 1 }]), [{ seq: 2 }]);
    assert.deepEqual(publish(sm, 1, [{ msgId: 'm', expectedLastSeq: 0 }]), [{ seq: 1, duplicate: true }]);
  });

  it("discard 'new' refuses with RESOURCE_EXHAUSTED naming the limit; discard 'old' makes room", () => {
    const full = machine({ maxMessages: 2, discard: 'new' });
    assert.deepEqual(publish(full, 1, [{}, {}, {}]).map(seqOf), [1, 2, 'RESOURCE_EXHAUSTED']);
    const o = publish(full, 1, [{}])[0]!;
    assert.ok('error' in o && /maxMessages 2/.test(o.error.message));
    const old = machine({ maxMessages: 2 });
    publish(old, 1, [{}, {}, {}]);
    assert.equal(old.info().firstSeq, 2);
  });

  it('an atomic publish stores all or nothing, and checks each message against the ones before it', () => {
    const sm = machine({ maxMessages: 3, discard: 'new' });
    const refused = sm.applyCommand({
      type: 'publish',
      now: 1,
      atomic: true,
      messages: [
        { subject: 's.a', payload: new Uint8Array(0) },
        { subject: 'nope', payload: new Uint8Array(0) },
      ],
    });
    assert.ok(!refused.ok);
    assert.match(refused.error.message, /messages\[1\] of an atomic publish \(nothing was stored\)/);
    assert.equal(sm.info().lastSeq, 0);
    // Too many for the limit together: nothing stored.
    const tooMany = sm.applyCommand({
      type: 'publish',
      now: 1,
      atomic: true,
      messages: [{}, {}, {}, {}].map(() => ({ subject: 's.a', payload: new Uint8Array(0) })),
    });
    assert.equal(!tooMany.ok && tooMany.error.code, 'RESOURCE_EXHAUSTED');
    assert.equal(sm.info().messages, 0);
    // expectedLastSeq runs along the batch; a msgId repeated inside the batch is a duplicate.
    assert.deepEqual(
      publish(sm, 1, [{ expectedLastSeq: 0, msgId: 'x' }, { expectedLastSeq: 1 }, { msgId: 'x' }], true),
      [{ seq: 1 }, { seq: 2 }, { seq: 1, duplicate: true }],
    );
    const wrong = sm.applyCommand({
      type: 'publish',
      now: 1,
      atomic: true,
      messages: [
        { subject: 's.a', payload: new Uint8Array(0) },
        { subject: 's.a', payload: new Uint8Array(0), expectedLastSeq: 2 },
      ],
    });
    assert.equal(!wrong.ok && wrong.error.code, 'FAILED_PRECONDITION');
    assert.equal(sm.info().lastSeq, 2);
  });

  it('tick applies age retention; purge removes all or below a sequence', () => {
    const sm = machine({ maxAgeMs: 100 });
    publish(sm, 1000, [{}, {}]);
    publish(sm, 1050, [{}]);
    assert.deepEqual(ok(sm.applyCommand({ type: 'tick', now: 1120 })), { type: 'tick', removed: 2, deadLettered: 0 });
    publish(sm, 1120, [{}, {}]);
    assert.deepEqual(ok(sm.applyCommand({ type: 'purge', now: 1120, belowSeq: 5 })), { type: 'purge', purged: 2 });
    assert.deepEqual(ok(sm.applyCommand({ type: 'purge', now: 1120 })), { type: 'purge', purged: 1 });
    assert.equal(sm.info().messages, 0);
    assert.equal(sm.info().lastSeq, 5);
  });

  it('stream-update changes limits (applied at once) and refuses fixed fields', () => {
    const sm = machine();
    publish(sm, 1, [{}, {}, {}]);
    const r = ok(
      sm.applyCommand({ type: 'stream-update', now: 2, config: { name: 's', subjects: ['s.>'], maxMessages: 1 } }),
    );
    assert.equal(r.type === 'stream' && r.info.messages, 1);
    const bad = sm.applyCommand({ type: 'stream-update', now: 2, config: { name: 's', partitions: 2 } });
    assert.equal(!bad.ok && bad.error.code, 'FAILED_PRECONDITION');
    const moved = sm.applyCommand({ type: 'stream-update', now: 2, config: { name: 's', subjects: ['t'] } });
    assert.ok(moved.ok);
    assert.match(
      String((publish(sm, 3, [{}])[0] as { error: Error }).error.message),
      /not one of stream s's subjects \(t\)/,
    );
  });

  it('runs consumers with the real consumer table by default: create, fetch, ack, work-queue removal, snapshot', () => {
    const sm = machine({ retention: 'work-queue' });
    publish(sm, 1, [{ key: 'a' }, { key: 'b' }]);
    const created = ok(sm.applyCommand({ type: 'consumer-create', now: 1, config: { name: 'c', maxDeliver: 2 } }));
    assert.ok(created.type === 'consumer');
    assert.deepEqual([created.info.stream, created.info.config.ackWaitMs], ['s', 30_000]);
    const fetched = ok(sm.applyCommand({ type: 'fetch', now: 2, consumer: 'c', max: 1, maxBytes: 100 }));
    assert.ok(fetched.type === 'fetch' && fetched.deliveries.length === 1);
    const d = fetched.deliveries[0]!;
    const acked = ok(
      sm.applyCommand({
        type: 'ack',
        now: 3,
        consumer: 'c',
        acks: [{ kind: 'ack', seq: d.message.seq, token: d.token }],
      }),
    );
    assert.deepEqual(acked, { type: 'ack', outcomes: [{ ok: true }] });
    assert.equal(sm.info().firstSeq, 2, 'the acked message left the work queue');
    const b = new PartitionStateMachine();
    b.restore(sm.snapshot());
    assert.deepEqual(b.consumerInfo('c'), sm.consumerInfo('c'));
    const again = (m: PartitionStateMachine) =>
      ok(m.applyCommand({ type: 'fetch', now: 4, consumer: 'c', max: 5, maxBytes: 100 }));
    assert.deepEqual(again(b), again(sm));
    const bad = sm.applyCommand({ type: 'consumer-create', now: 1, config: { name: 'd', maxDeliver: 0 } });
    assert.equal(!bad.ok && bad.error.code, 'INVALID_ARGUMENT');
  });

  it('dispatches consumer commands to the table, reports every removal to it, and removes acked work (work-queue)', () => {
    const removed: number[] = [];
    let floor = 0;
    const table: ConsumerTableLike = {
      size: 1,
      create: (config) => ({ stream: 's', partition: 0, config, ackFloor: 0, pending: 0, waiting: 0, redelivered: 0 }),
      delete: () => {},
      fetch: () => [],
      ack: (_name, _now, acks) => acks.map((): AckOutcome => ({ ok: true })),
      tick: () => 2,
      messageRemoved: (seq) => removed.push(seq),
      workQueueFloor: () => floor,
      doneWith: () => false,
      info: () => assert.fail('not used'),
      snapshot: () => ({ floor }),
    };
    const tables: ConsumerTables = { create: () => table, restore: () => table };
    const sm = machine({ retention: 'work-queue', maxMessages: 5 }, 0, tables);
    publish(sm, 1, [{}, {}, {}, {}, {}, {}]);
    assert.deepEqual(removed, [1]);
    floor = 4;
    const acked = ok(
      sm.applyCommand({ type: 'ack', now: 2, consumer: 'c', acks: [{ kind: 'ack', seq: 3, token: 1 }] }),
    );
    assert.deepEqual(acked, { type: 'ack', outcomes: [{ ok: true }] });
    assert.deepEqual(removed, [1, 2, 3]);
    assert.equal(sm.info().firstSeq, 4);
    floor = 6;
    assert.deepEqual(ok(sm.applyCommand({ type: 'tick', now: 3 })), { type: 'tick', removed: 2, deadLettered: 2 });
    const created = ok(sm.applyCommand({ type: 'consumer-create', now: 1, config: { name: 'c' } }));
    assert.equal(created.type === 'consumer' && created.info.config.name, 'c');
  });

  it('work-queue: a dead-lettered message leaves the log even above a floor another message holds (real consumers)', () => {
    const sm = machine({ retention: 'work-queue' });
    ok(sm.applyCommand({ type: 'consumer-create', now: 0, config: { name: 'w', maxDeliver: 1, ackWaitMs: 100 } }));
    publish(sm, 1, [{}, {}, {}]);
    const f = ok(sm.applyCommand({ type: 'fetch', now: 1, consumer: 'w', max: 3, maxBytes: 1000 }));
    assert.ok(f.type === 'fetch' && f.deliveries.length === 3);
    const [first, , third] = f.deliveries;
    // 1 stays in progress, 3 is acked (removed at once), 2 is never acked: dead-lettered after its ack wait.
    const acks = [
      { kind: 'progress', seq: 1, token: first!.token },
      { kind: 'ack', seq: 3, token: third!.token },
    ];
    ok(sm.applyCommand({ type: 'ack', now: 50, consumer: 'w', acks }));
    assert.deepEqual([sm.messages.get(1)?.seq, sm.messages.get(2)?.seq, sm.messages.get(3)], [1, 2, undefined]);
    const t = ok(sm.applyCommand({ type: 'tick', now: 120 }));
    assert.deepEqual(t, { type: 'tick', removed: 1, deadLettered: 1 });
    assert.equal(sm.messages.get(2), undefined);
    assert.equal(sm.deadLetters()[0]?.message.seq, 2);
    assert.equal(sm.info().messages, 1);
    assert.equal(sm.consumerInfo('w').ackFloor, 0);
  });

  it('replays a dead letter into the stream and removes it from the dead-letter log', () => {
    let sink: { deadLetter(e: object): void } | undefined;
    const tables: ConsumerTables = {
      create: (_log, dlq) => {
        sink = dlq;
        return {
          size: 0,
          tick: () => 0,
          messageRemoved: () => {},
          snapshot: () => null,
        } as unknown as ConsumerTableLike;
      },
      restore: () => assert.fail('not used'),
    };
    const sm = machine({}, 0, tables);
    publish(sm, 1, [{ key: 'k', msgId: 'id' }]);
    const message = sm.messages.get(1)!;
    sink!.deadLetter({ message, consumer: 'c', deliveries: 20, reason: 'max-deliveries', time: 2 });
    assert.equal(sm.info().deadLetters, 1);
    const r = ok(sm.applyCommand({ type: 'dlq-replay', now: 3, seqs: [1, 9] }));
    assert.ok(r.type === 'dlq-replay');
    assert.deepEqual(r.outcomes[0], { seq: 2 });
    assert.equal(r.outcomes[1] !== undefined && 'error' in r.outcomes[1] && r.outcomes[1].error.code, 'NOT_FOUND');
    assert.equal(sm.info().deadLetters, 0);
    assert.equal(sm.messages.get(2)?.key, 'k');
    assert.equal(sm.messages.get(2)?.msgId, undefined);
  });

  it('applies encoded Raft entries, skips an index applied before, and never throws on garbage', () => {
    const sm = machine();
    const entry = (index: number) => ({ index, term: 1, type: 'normal', data: new Uint8Array(0) }) as never;
    const cmd = encodePartitionCommand(
      validatePartitionCommand({ type: 'publish', now: 1, messages: [{ subject: 's.a', payload: 'x' }] }),
    );
    assert.ok(sm.apply(cmd, entry(1)).ok);
    assert.ok(!sm.apply(cmd, entry(1)).ok);
    assert.equal(sm.info().lastSeq, 1);
    const garbage = sm.apply(new Uint8Array([0xc1, 0xff]), entry(2));
    assert.equal(!garbage.ok && garbage.error.code, 'INVALID_ARGUMENT');
    assert.equal(sm.appliedIndex, 2);
  });

  it('snapshots are deterministic and restore the whole state; corrupt ones fail with DATA_LOSS', () => {
    const a = machine({ compactByKey: true, maxAgeMs: 1000 });
    publish(a, 10, [{ key: 'k', msgId: 'a', headers: { h: 'v' } }, { key: 'k' }, { deliverAt: 20 }]);
    const snap = a.snapshot();
    const b = new PartitionStateMachine();
    b.restore(snap);
    assert.equal(hex(b.snapshot()), hex(snap));
    assert.deepEqual(b.info(), a.info());
    assert.deepEqual(publish(b, 11, [{ msgId: 'a' }]), [{ seq: 1, duplicate: true }]);
    assert.throws(() => b.restore(new Uint8Array([1, 2, 3])), { code: 'DATA_LOSS' });
    assert.throws(() => b.restore(snap.subarray(0, snap.length - 3)), { code: 'DATA_LOSS' });
    assert.equal(b.info().messages, 2);
  });
});
