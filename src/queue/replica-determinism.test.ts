import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodePartitionCommand } from './command-codec.js';
import { validatePartitionCommand } from './commands.js';
import { PartitionStateMachine } from './partition-state-machine.js';
import type { AckKind, PartitionOutcome } from './types.js';

/**
 * Every command type, consumers included: replicas applying the same entries give the same
 * outcomes and byte-identical snapshots, and a replica restored from a snapshot taken midway
 * then applying the rest ends in the same state as one that applied everything.
 */

type Step =
  | { t: 'publish'; n: number; key?: string; msgId?: string; delay?: number }
  | { t: 'consumer'; name: string; mode: 'competing' | 'ordered-by-key'; maxDeliver: number }
  | { t: 'delete'; name: string }
  | { t: 'fetch'; name: string; max: number }
  | { t: 'ack'; name: string; kind: AckKind; pick: number; stale: boolean }
  | { t: 'tick' }
  | { t: 'purge' }
  | { t: 'replay'; seq: number }
  | { t: 'update'; maxMessages: number };

const name = fc.constantFrom('c1', 'c2');
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        t: fc.constant('publish' as const),
        n: fc.integer({ min: 1, max: 3 }),
        key: fc.constantFrom('a', 'b'),
        msgId: fc.constantFrom('x', 'y', 'z'),
        delay: fc.nat(50),
      },
      { requiredKeys: ['t', 'n'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('consumer' as const),
      name,
      mode: fc.constantFrom('competing' as const, 'ordered-by-key' as const),
      maxDeliver: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('delete' as const), name }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('fetch' as const), name, max: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('ack' as const),
      name,
      kind: fc.constantFrom('ack' as const, 'nak' as const, 'progress' as const, 'term' as const),
      pick: fc.nat(20),
      stale: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('purge' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('replay' as const), seq: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('update' as const), maxMessages: fc.constantFrom(0, 3, 6) }) },
);

/** An outcome as comparable text: bytes as hex, errors as code and message. */
function shown(o: PartitionOutcome): string {
  return JSON.stringify(o, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (v instanceof Error) return { code: (v as { code?: string }).code, message: v.message };
    return v;
  });
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('partition replicas (every command type)', () => {
  it('agree on outcomes and snapshot bytes; restore midway then the rest equals applying everything', () => {
    // What the runs exercised, so the property cannot pass vacuously (e.g. every consumer command refused).
    const seen = { deliveries: 0, ackedOk: 0, deadLettered: 0, replayed: 0 };
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 20, maxLength: 80, size: 'max' }),
        fc.nat(80),
        fc.boolean(),
        (steps, cut, workQueue) => {
          const a = new PartitionStateMachine();
          const entries: Uint8Array[] = [];
          const outcomes: string[] = [];
          const apply = (cmd: unknown) => {
            const bytes = encodePartitionCommand(validatePartitionCommand(cmd));
            entries.push(bytes);
            const o = a.applyCommand(bytes);
            outcomes.push(shown(o));
            if (o.ok && o.result.type === 'fetch') seen.deliveries += o.result.deliveries.length;
            if (o.ok && o.result.type === 'ack') seen.ackedOk += o.result.outcomes.filter((x) => 'ok' in x).length;
            if (o.ok && o.result.type === 'tick') seen.deadLettered += o.result.deadLettered;
            if (o.ok && o.result.type === 'dlq-replay')
              seen.replayed += o.result.outcomes.filter((x) => 'seq' in x).length;
            return o;
          };
          const config = { name: 'q', subjects: ['q.>'], retention: workQueue ? 'work-queue' : 'limits' };
          apply({ type: 'stream-create', now: 0, partition: 0, config });
          // Two consumers from the start (steps may delete and re-create them).
          apply({ type: 'consumer-create', now: 0, config: { name: 'c1', maxDeliver: 2, ackWaitMs: 100 } });
          apply({ type: 'consumer-create', now: 0, config: { name: 'c2', mode: 'ordered-by-key', ackWaitMs: 100 } });
          // Deliveries seen, so acks name real (seq, token) pairs, some of them superseded.
          const delivered: { consumer: string; seq: number; token: number }[] = [];
          let now = 1000;
          let id = 0;
          for (const s of steps) {
            now += 7;
            switch (s.t) {
              case 'publish': {
                const messages = Array.from({ length: s.n }, () => ({
                  subject: 'q.m',
                  payload: new TextEncoder().encode(`m${id++}`),
                  ...(s.key === undefined ? {} : { key: s.key }),
                  ...(s.msgId === undefined ? {} : { msgId: `${s.msgId}${id % 4}` }),
                  ...(s.delay === undefined ? {} : { deliverAt: now + s.delay }),
                }));
                apply({ type: 'publish', now, messages });
                break;
              }
              case 'consumer':
                apply({
                  type: 'consumer-create',
                  now,
                  config: { name: s.name, mode: s.mode, maxDeliver: s.maxDeliver, ackWaitMs: 100 },
                });
                break;
              case 'delete':
                apply({ type: 'consumer-delete', now, name: s.name });
                break;
              case 'fetch': {
                const o = apply({ type: 'fetch', now, consumer: s.name, max: s.max, maxBytes: 1000 });
                if (o.ok && o.result.type === 'fetch') {
                  for (const d of o.result.deliveries)
                    delivered.push({ consumer: s.name, seq: d.message.seq, token: d.token });
                }
                break;
              }
              case 'ack': {
                const mine = delivered.filter((d) => d.consumer === s.name);
                const d = mine[s.pick % Math.max(1, mine.length)];
                const seq = d?.seq ?? 1;
                const token = (d?.token ?? 0) - (s.stale ? 1 : 0);
                apply({ type: 'ack', now, consumer: s.name, acks: [{ kind: s.kind, seq, token: Math.max(0, token) }] });
                break;
              }
              case 'tick':
                now += 100;
                apply({ type: 'tick', now });
                break;
              case 'purge':
                apply({ type: 'purge', now });
                break;
              case 'replay':
                apply({ type: 'dlq-replay', now, seqs: [s.seq] });
                break;
              case 'update':
                apply({ type: 'stream-update', now, config: { ...config, maxMessages: s.maxMessages } });
                break;
            }
          }
          const b = new PartitionStateMachine();
          const at = Math.min(cut, entries.length);
          for (let i = 0; i < at; i++) assert.equal(shown(b.applyCommand(entries[i]!)), outcomes[i]);
          const c = new PartitionStateMachine();
          c.restore(b.snapshot());
          entries.slice(at).forEach((e, i) => {
            assert.equal(shown(b.applyCommand(e)), outcomes[at + i]);
            assert.equal(shown(c.applyCommand(e)), outcomes[at + i]);
          });
          assert.equal(hex(b.snapshot()), hex(a.snapshot()));
          assert.equal(hex(c.snapshot()), hex(a.snapshot()));
        },
      ),
      { numRuns: 150 },
    );
    assert.ok(
      seen.deliveries > 0 && seen.ackedOk > 0 && seen.deadLettered > 0 && seen.replayed > 0,
      JSON.stringify(seen),
    );
  });
});
