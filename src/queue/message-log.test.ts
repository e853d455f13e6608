import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type LogLimits, MESSAGE_OVERHEAD_BYTES, MessageLog, messageBytes, utf8Length } from './message-log.js';
import type { StoredMessage } from './types.js';

const NO_LIMITS: LogLimits = { maxMessages: 0, maxBytes: 0, maxAgeMs: 0, discard: 'old', compactByKey: false };

const msg = (payload = 0, key?: string) => ({
  subject: 's',
  payload: new Uint8Array(payload),
  ...(key === undefined ? {} : { key }),
});

function logWith(limits: Partial<LogLimits> = {}) {
  const removed: number[] = [];
  const log = new MessageLog({ ...NO_LIMITS, ...limits }, (m) => removed.push(m.seq));
  return { log, removed };
}

const seqs = (log: MessageLog) => [...log.all()].map((m) => m.seq);

describe('MessageLog', () => {
  it('assigns sequences from 1 without gaps and finds messages by sequence', () => {
    const { log } = logWith();
    assert.equal(log.firstSeq, 0);
    assert.equal(log.lastSeq, 0);
    for (let i = 0; i < 5; i++) assert.equal(log.append(msg(i), 1000 + i).seq, i + 1);
    assert.equal(log.firstSeq, 1);
    assert.equal(log.lastSeq, 5);
    assert.equal(log.get(3)?.payload.length, 2);
    assert.equal(log.get(0), undefined);
    assert.equal(log.get(6), undefined);
    assert.equal(log.messages, 5);
  });

  it('stamps times that never go backwards, even when the leader clock does', () => {
    const { log } = logWith();
    log.append(msg(), 1000);
    const m = log.append(msg(), 900);
    assert.equal(m.time, 1000);
    assert.equal(log.lastTime, 1000);
  });

  it('keeps lastSeq when messages are removed, and leaves gaps', () => {
    const { log, removed } = logWith();
    for (let i = 0; i < 5; i++) log.append(msg(), 0);
    assert.equal(log.remove(3), true);
    assert.equal(log.remove(3), false);
    assert.equal(log.removeBelow(2), 1);
    assert.deepEqual(seqs(log), [2, 4, 5]);
    assert.deepEqual(removed, [3, 1]);
    assert.equal(log.nextAtOrAfter(3)?.seq, 4);
    assert.equal(log.nextAtOrAfter(6), undefined);
    assert.equal(log.clear(), 3);
    assert.equal(log.firstSeq, 0);
    assert.equal(log.lastSeq, 5);
    assert.equal(log.append(msg(), 0).seq, 6);
    assert.equal(log.firstSeq, 6);
  });

  it('accounts bytes: payload, subject, key, msgId, headers (UTF-8) and a fixed overhead', () => {
    const m = { subject: 'ab', key: 'é', msgId: 'x', headers: { h: '€' }, payload: new Uint8Array(10) };
    assert.equal(messageBytes(m), MESSAGE_OVERHEAD_BYTES + 10 + 2 + 2 + 1 + 1 + 3);
    assert.equal(utf8Length('a😀'), 5);
    const { log } = logWith();
    log.append(m, 0);
    log.append(msg(5), 0);
    assert.equal(log.bytes, messageBytes(m) + messageBytes(msg(5)));
    log.remove(1);
    assert.equal(log.bytes, messageBytes(msg(5)));
  });

  it("discard 'old' removes the oldest beyond maxMessages and maxBytes", () => {
    const { log, removed } = logWith({ maxMessages: 3 });
    for (let i = 0; i < 5; i++) log.append(msg(), 0);
    assert.deepEqual(seqs(log), [3, 4, 5]);
    assert.deepEqual(removed, [1, 2]);
    const b = logWith({ maxBytes: 3 * messageBytes(msg(10)) });
    for (let i = 0; i < 4; i++) b.log.append(msg(10), 0);
    assert.deepEqual(seqs(b.log), [2, 3, 4]);
    // One message larger than maxBytes alone is still stored (its size is the publish's check).
    b.log.append(msg(1000), 0);
    assert.deepEqual(seqs(b.log), [5]);
  });

  it("discard 'new' refuses with RESOURCE_EXHAUSTED naming the limit, counting what compaction replaces", () => {
    const { log } = logWith({ maxMessages: 2, discard: 'new', compactByKey: true });
    const one = { bytes: 100 };
    log.append(msg(0, 'a'), 0);
    assert.equal(log.refusal([one]), undefined);
    log.append(msg(), 0);
    const full = log.refusal([one]);
    assert.equal(full?.code, 'RESOURCE_EXHAUSTED');
    assert.match(full!.message, /maxMessages 2/);
    assert.deepEqual((full!.details as { limit: string }).limit, 'maxMessages');
    // A message of key 'a' replaces the stored one: it fits; so do two of a new key in one batch.
    assert.equal(log.refusal([{ bytes: 1, key: 'a' }]), undefined);
    assert.equal(
      log.refusal([
        { bytes: 1, key: 'a' },
        { bytes: 1, key: 'a' },
      ]),
      undefined,
    );
    assert.equal(log.refusal([{ bytes: 1, key: 'b' }])?.code, 'RESOURCE_EXHAUSTED');
    const b = logWith({ maxBytes: 1000, discard: 'new' });
    b.log.append(msg(500), 0);
    assert.match(b.log.refusal([{ bytes: 500 }])!.message, /maxBytes 1000/);
    assert.equal(b.log.refusal([{ bytes: 1000 - b.log.bytes }]), undefined);
  });

  it('age retention removes messages older than maxAgeMs at the given now', () => {
    const { log } = logWith({ maxAgeMs: 100 });
    log.append(msg(), 1000);
    log.append(msg(), 1050);
    log.append(msg(), 1100);
    assert.equal(log.expire(1099), 0);
    assert.equal(log.expire(1150), 2);
    assert.deepEqual(seqs(log), [3]);
  });

  it('lowered limits apply on enforce(), whatever the discard policy', () => {
    const { log } = logWith({ discard: 'new' });
    for (let i = 0; i < 5; i++) log.append(msg(), i);
    log.setLimits({ ...NO_LIMITS, discard: 'new', maxMessages: 2 });
    assert.equal(log.enforce(10), 3);
    assert.deepEqual(seqs(log), [4, 5]);
    assert.throws(() => log.setLimits({ ...NO_LIMITS, compactByKey: true }), /compactByKey/);
  });

  it('compaction by key keeps the last message of each key', () => {
    const { log, removed } = logWith({ compactByKey: true });
    log.append(msg(0, 'a'), 0);
    log.append(msg(0, 'b'), 0);
    log.append(msg(), 0);
    log.append(msg(0, 'a'), 0);
    log.append(msg(0, 'b'), 0);
    assert.deepEqual(seqs(log), [3, 4, 5]);
    assert.deepEqual(removed, [1, 2]);
    assert.equal(log.lastSeqOfKey('a'), 4);
    log.remove(4);
    assert.equal(log.lastSeqOfKey('a'), undefined);
  });

  it('finds the first message at or after a time', () => {
    const { log } = logWith();
    for (const t of [10, 20, 20, 30]) log.append(msg(), t);
    assert.equal(log.firstSeqAtOrAfterTime(0), 1);
    assert.equal(log.firstSeqAtOrAfterTime(15), 2);
    assert.equal(log.firstSeqAtOrAfterTime(20), 2);
    log.remove(2);
    assert.equal(log.firstSeqAtOrAfterTime(20), 3);
    assert.equal(log.firstSeqAtOrAfterTime(31), 5);
  });

  it('stays small while one old message is kept and millions pass by (memory is bounded by live messages)', () => {
    // One message of key 'stuck' stays forever (compaction by key), a million others each
    // replace the previous one: the arrays are rebuilt, so they never hold a million slots.
    const { log } = logWith({ compactByKey: true });
    log.append(msg(0, 'stuck'), 0);
    for (let i = 0; i < 200_000; i++) log.append(msg(0, 'hot'), i);
    assert.equal(log.messages, 2);
    assert.deepEqual(seqs(log), [1, 200_001]);
    const internals = log as unknown as { seqs: number[]; slots: unknown[] };
    assert.ok(internals.seqs.length < 200, `arrays hold ${internals.seqs.length} slots`);
    assert.ok(internals.slots.length < 200);
    // Removals at the head under a count limit: the dead prefix is cut off too.
    const { log: capped } = logWith({ maxMessages: 10 });
    for (let i = 0; i < 200_000; i++) capped.append(msg(), i);
    const c = capped as unknown as { seqs: number[] };
    assert.ok(c.seqs.length < 3000, `arrays hold ${c.seqs.length} slots`);
  });

  it('load() restores messages and refuses out-of-order ones', () => {
    const { log } = logWith({ compactByKey: true });
    log.append(msg(1, 'k'), 5);
    log.append(msg(2), 6);
    const copy = logWith({ compactByKey: true }).log;
    copy.load([...log.all()], log.lastSeq, log.lastTime);
    assert.deepEqual(seqs(copy), [1, 2]);
    assert.equal(copy.bytes, log.bytes);
    assert.equal(copy.lastSeqOfKey('k'), 1);
    assert.equal(copy.append(msg(), 0).time, 6);
    const m = (seq: number): StoredMessage => ({ seq, subject: 's', payload: new Uint8Array(0), time: 0 });
    assert.throws(() => copy.load([m(2), m(1)], 2, 0), { code: 'DATA_LOSS' });
    assert.throws(() => copy.load([m(3)], 2, 0), { code: 'DATA_LOSS' });
  });

  it('behaves like an array of messages under appends, removals and limits (property, brute-force oracle)', () => {
    type Op =
      | { t: 'append'; size: number; key?: string; dt: number }
      | { t: 'remove'; back: number }
      | { t: 'below'; back: number }
      | { t: 'expire'; dt: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record(
          {
            t: fc.constant('append' as const),
            size: fc.nat(50),
            key: fc.constantFrom('a', 'b', 'c'),
            dt: fc.integer({ min: -5, max: 20 }),
          },
          { requiredKeys: ['t', 'size', 'dt'] },
        ),
      },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('remove' as const), back: fc.nat(12) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('below' as const), back: fc.nat(12) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('expire' as const), dt: fc.nat(30) }) },
    );
    const limitsArb = fc.record({
      maxMessages: fc.constantFrom(0, 3, 8),
      maxBytes: fc.constantFrom(0, 300, 700),
      maxAgeMs: fc.constantFrom(0, 40),
      discard: fc.constant('old' as const),
      compactByKey: fc.boolean(),
    });
    fc.assert(
      fc.property(limitsArb, fc.array(op, { maxLength: 120 }), (limits, ops) => {
        const { log, removed } = logWith(limits);
        // The oracle: every message ever stored, with a live flag; limits applied by brute force.
        const model: { seq: number; time: number; size: number; key?: string; live: boolean }[] = [];
        const live = () => model.filter((m) => m.live);
        const kill = (m: { live: boolean }) => {
          m.live = false;
        };
        let now = 1000;
        let lastTime = 0;
        let removedCount = 0;
        for (const o of ops) {
          if (o.t === 'append') {
            now += o.dt;
            const input = msg(o.size, o.key);
            const stored = log.append(input, now);
            const time = Math.max(now, lastTime);
            lastTime = time;
            if (limits.compactByKey && o.key !== undefined) for (const m of live()) if (m.key === o.key) kill(m);
            model.push({ seq: model.length + 1, time, size: messageBytes(input), key: o.key, live: true });
            const over = () => {
              const l = live();
              const bytes = l.reduce((s, m) => s + m.size, 0);
              return (
                l.length > 1 &&
                ((limits.maxMessages > 0 && l.length > limits.maxMessages) ||
                  (limits.maxBytes > 0 && bytes > limits.maxBytes))
              );
            };
            while (over()) kill(live()[0]!);
            assert.equal(stored.seq, model.length);
            assert.equal(stored.time, time);
          } else if (o.t === 'remove') {
            const seq = model.length - o.back;
            const target = model.find((m) => m.seq === seq && m.live);
            assert.equal(log.remove(seq), target !== undefined);
            if (target) kill(target);
          } else if (o.t === 'below') {
            const seq = model.length - o.back;
            const n = live().filter((m) => m.seq < seq);
            assert.equal(log.removeBelow(seq), n.length);
            n.forEach(kill);
          } else {
            now += o.dt;
            const n = limits.maxAgeMs === 0 ? [] : live().filter((m) => m.time <= now - limits.maxAgeMs);
            assert.equal(log.expire(now), n.length);
            n.forEach(kill);
          }
          const l = live();
          assert.deepEqual(
            seqs(log),
            l.map((m) => m.seq),
          );
          assert.equal(log.messages, l.length);
          assert.equal(
            log.bytes,
            l.reduce((s, m) => s + m.size, 0),
          );
          assert.equal(log.firstSeq, l[0]?.seq ?? 0);
          assert.equal(log.lastSeq, model.length);
          removedCount = model.length - l.length;
          assert.equal(removed.length, removedCount);
          for (let seq = 0; seq <= model.length + 1; seq++) {
            const want = model.find((m) => m.seq === seq && m.live);
            assert.equal(log.get(seq)?.seq, want?.seq);
            assert.equal(log.nextAtOrAfter(seq)?.seq, l.find((m) => m.seq >= seq)?.seq);
          }
          for (const t of [0, now - 20, now - 3, now, now + 1]) {
            assert.equal(log.firstSeqAtOrAfterTime(t), l.find((m) => m.time >= t)?.seq ?? model.length + 1);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
