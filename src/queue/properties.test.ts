import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodePartitionCommand } from './command-codec.js';
import { validatePartitionCommand } from './commands.js';
import { messageBytes } from './message-log.js';
import { PartitionStateMachine } from './partition-state-machine.js';
import type { PartitionCommand, PartitionOutcome, StreamConfig } from './types.js';

/**
 * Model-based test of publish, deduplication and retention: the partition state machine against
 * a brute-force model (a list of stored messages, a map of remembered ids, limits applied by
 * filtering), plus determinism: the same commands give byte-identical snapshots, and restoring a
 * snapshot taken midway then applying the rest equals applying everything.
 */

interface ModelMessage {
  seq: number;
  time: number;
  key?: string;
  bytes: number;
}

interface Model {
  msgs: ModelMessage[];
  lastSeq: number;
  lastTime: number;
  dedup: Map<string, { seq: number; until: number }>;
}

type Entry = { subject: string; payload: Uint8Array; key?: string; msgId?: string; expectedLastSeq?: number };
/** What the model expects of one message: a sequence, a duplicate's sequence, or an error code. */
type Expect = { seq: number; duplicate?: true } | { code: string };

function expire(model: Model, c: StreamConfig, now: number): void {
  if (c.maxAgeMs > 0) model.msgs = model.msgs.filter((m) => m.time > now - c.maxAgeMs);
  for (const [id, d] of model.dedup) if (d.until <= now) model.dedup.delete(id);
}

/** The live messages after storing `batch` on top of `msgs` (compaction by key), without limits. */
function after(msgs: readonly ModelMessage[], batch: readonly ModelMessage[], c: StreamConfig): ModelMessage[] {
  let out = [...msgs];
  for (const m of batch) {
    if (c.compactByKey && m.key !== undefined) out = out.filter((x) => x.key !== m.key);
    out.push(m);
  }
  return out;
}

const over = (msgs: readonly ModelMessage[], c: StreamConfig) =>
  (c.maxMessages > 0 && msgs.length > c.maxMessages) ||
  (c.maxBytes > 0 && msgs.reduce((s, m) => s + m.bytes, 0) > c.maxBytes);

function store(model: Model, c: StreamConfig, e: Entry, now: number): number {
  const time = Math.max(now, model.lastTime);
  model.lastTime = time;
  const m: ModelMessage = { seq: ++model.lastSeq, time, bytes: messageBytes(e), ...(e.key ? { key: e.key } : {}) };
  model.msgs = after(model.msgs, [m], c);
  if (c.discard === 'old') while (model.msgs.length > 1 && over(model.msgs, c)) model.msgs.shift();
  if (e.msgId !== undefined && c.dedupWindowMs > 0)
    model.dedup.set(e.msgId, { seq: m.seq, until: time + c.dedupWindowMs });
  return m.seq;
}

function modelPublish(
  model: Model,
  c: StreamConfig,
  entries: Entry[],
  now: number,
  atomic: boolean,
): Expect[] | string {
  expire(model, c, now);
  if (!atomic) {
    return entries.map((e): Expect => {
      if (e.subject !== 'q.a') return { code: 'INVALID_ARGUMENT' };
      const d = e.msgId === undefined ? undefined : model.dedup.get(e.msgId);
      if (d !== undefined) return { seq: d.seq, duplicate: true };
      if (e.expectedLastSeq !== undefined && e.expectedLastSeq !== model.lastSeq)
        return { code: 'FAILED_PRECONDITION' };
      const probe = { seq: 0, time: 0, bytes: messageBytes(e), ...(e.key ? { key: e.key } : {}) };
      if (c.discard === 'new' && over(after(model.msgs, [probe], c), c)) return { code: 'RESOURCE_EXHAUSTED' };
      return { seq: store(model, c, e, now) };
    });
  }
  // Atomic: plan against the state as it would be, then store all or refuse all.
  const ids = new Map<string, number>();
  let last = model.lastSeq;
  const plan: (Entry | number)[] = [];
  for (const e of entries) {
    if (e.subject !== 'q.a') return 'INVALID_ARGUMENT';
    const dup = e.msgId === undefined ? undefined : (model.dedup.get(e.msgId)?.seq ?? ids.get(e.msgId));
    if (dup !== undefined) {
      plan.push(dup);
      continue;
    }
    if (e.expectedLastSeq !== undefined && e.expectedLastSeq !== last) return 'FAILED_PRECONDITION';
    last++;
    if (e.msgId !== undefined) ids.set(e.msgId, last);
    plan.push(e);
  }
  const batch = plan
    .filter((p): p is Entry => typeof p !== 'number')
    .map((e) => ({ seq: 0, time: 0, bytes: messageBytes(e), ...(e.key ? { key: e.key } : {}) }));
  if (c.discard === 'new' && over(after(model.msgs, batch, c), c)) return 'RESOURCE_EXHAUSTED';
  return plan.map(
    (p): Expect => (typeof p === 'number' ? { seq: p, duplicate: true } : { seq: store(model, c, p, now) }),
  );
}

type Step =
  | {
      t: 'publish';
      dt: number;
      atomic: boolean;
      msgs: { size: number; key?: string; msgId?: string; expect?: 'right' | 'wrong'; badSubject?: boolean }[];
    }
  | { t: 'tick'; dt: number }
  | { t: 'purge'; back?: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('publish' as const),
      dt: fc.integer({ min: -3, max: 30 }),
      atomic: fc.boolean(),
      msgs: fc.array(
        fc.record(
          {
            size: fc.nat(40),
            key: fc.constantFrom('a', 'b'),
            msgId: fc.constantFrom('m1', 'm2', 'm3', 'm4'),
            expect: fc.constantFrom('right' as const, 'wrong' as const),
            badSubject: fc.constant(true),
          },
          { requiredKeys: ['size'] },
        ),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), dt: fc.nat(60) }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('purge' as const), back: fc.nat(4) }, { requiredKeys: ['t'] }),
  },
);

const configArb = fc.record({
  maxMessages: fc.constantFrom(0, 2, 5),
  maxBytes: fc.constantFrom(0, 400),
  maxAgeMs: fc.constantFrom(0, 50),
  discard: fc.constantFrom('old' as const, 'new' as const),
  compactByKey: fc.boolean(),
  dedupWindowMs: fc.constantFrom(0, 40, 120_000),
  maxMessageBytes: fc.constant(200),
});

function outcomeView(o: PartitionOutcome): Expect[] | string {
  if (!o.ok) return o.error.code;
  assert.equal(o.result.type, 'publish');
  if (o.result.type !== 'publish') return 'not a publish';
  return o.result.outcomes.map((x) =>
    'error' in x ? { code: x.error.code } : x.duplicate === true ? { seq: x.seq, duplicate: true } : { seq: x.seq },
  );
}

describe('partition state machine (model-based)', () => {
  it('publish, dedup and retention match a brute-force model; replicas and restored snapshots agree byte for byte', () => {
    fc.assert(
      fc.property(configArb, fc.array(step, { maxLength: 40 }), fc.nat(40), (cfg, steps, cut) => {
        const sm = new PartitionStateMachine();
        const created = sm.applyCommand({
          type: 'stream-create',
          now: 0,
          partition: 0,
          config: { name: 'q', subjects: ['q.a'], ...cfg },
        });
        assert.ok(created.ok);
        const c = sm.config!;
        const model: Model = { msgs: [], lastSeq: 0, lastTime: 0, dedup: new Map() };
        const log: Uint8Array[] = [];
        let now = 1000;
        for (const s of steps) {
          let cmd: PartitionCommand;
          if (s.t === 'publish') {
            now += s.dt;
            const messages: Entry[] = s.msgs.map((m) => ({
              subject: m.badSubject ? 'q.b' : 'q.a',
              payload: new Uint8Array(m.size),
              ...(m.key === undefined ? {} : { key: m.key }),
              ...(m.msgId === undefined ? {} : { msgId: m.msgId }),
              ...(m.expect === undefined
                ? {}
                : { expectedLastSeq: m.expect === 'right' ? model.lastSeq : model.lastSeq + 7 }),
            }));
            cmd = validatePartitionCommand({ type: 'publish', now, messages, ...(s.atomic ? { atomic: true } : {}) });
            const want = modelPublish(model, c, messages, now, s.atomic);
            const bytes = encodePartitionCommand(cmd);
            log.push(bytes);
            assert.deepEqual(outcomeView(sm.applyCommand(bytes)), want);
          } else if (s.t === 'tick') {
            now += s.dt;
            const before = model.msgs.length;
            expire(model, c, now);
            cmd = { type: 'tick', now };
            log.push(encodePartitionCommand(cmd));
            const o = sm.applyCommand(log[log.length - 1]!);
            assert.deepEqual(o.ok && o.result, { type: 'tick', removed: before - model.msgs.length, deadLettered: 0 });
          } else {
            const below = s.back === undefined ? undefined : Math.max(1, model.lastSeq - s.back);
            const gone = model.msgs.filter((m) => below === undefined || m.seq < below).length;
            model.msgs = model.msgs.filter((m) => below !== undefined && m.seq >= below);
            cmd = below === undefined ? { type: 'purge', now } : { type: 'purge', now, belowSeq: below };
            log.push(encodePartitionCommand(cmd));
            const o = sm.applyCommand(log[log.length - 1]!);
            assert.deepEqual(o.ok && o.result, { type: 'purge', purged: gone });
          }
          const info = sm.info();
          assert.deepEqual(
            [...(sm.messages as unknown as { all(): Iterable<{ seq: number }> }).all()].map((m) => m.seq),
            model.msgs.map((m) => m.seq),
          );
          assert.equal(
            info.bytes,
            model.msgs.reduce((sum, m) => sum + m.bytes, 0),
          );
          assert.equal(info.lastSeq, model.lastSeq);
        }
        // Determinism: a second replica applying the same entries, and one restored midway.
        const create = encodePartitionCommand(
          validatePartitionCommand({ type: 'stream-create', now: 0, partition: 0, config: c }),
        );
        const replica = new PartitionStateMachine();
        replica.applyCommand(create);
        const at = Math.min(cut, log.length);
        for (const b of log.slice(0, at)) replica.applyCommand(b);
        const restored = new PartitionStateMachine();
        restored.restore(replica.snapshot());
        for (const b of log.slice(at)) {
          replica.applyCommand(b);
          restored.applyCommand(b);
        }
        const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
        assert.equal(hex(replica.snapshot()), hex(sm.snapshot()));
        assert.equal(hex(restored.snapshot()), hex(sm.snapshot()));
      }),
      { numRuns: 300 },
    );
  });
});
