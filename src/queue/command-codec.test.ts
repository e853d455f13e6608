import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParleyError } from '../wire/parley-error.js';
import { commandToPropose, decodePartitionCommand, encodePartitionCommand } from './command-codec.js';
import { MAX_PUBLISH_BATCH, validatePartitionCommand } from './commands.js';
import type { PartitionCommand } from './types.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

const SAMPLES: unknown[] = [
  {
    type: 'publish',
    now: 5,
    atomic: true,
    messages: [
      { subject: 'orders.eu', payload: new Uint8Array([1, 2]), key: 'k', headers: { a: 'b' }, msgId: 'm1' },
      { subject: 'orders.us', payload: 'text', expectedLastSeq: 3, deliverAt: 99 },
    ],
  },
  { type: 'stream-create', now: 1, partition: 1, config: { name: 's', partitions: 2, subjects: ['a.>'] } },
  { type: 'stream-update', now: 1, config: { name: 's', maxMessages: 3 } },
  { type: 'purge', now: 1 },
  { type: 'purge', now: 1, belowSeq: 10 },
  { type: 'consumer-delete', now: 1, name: 'workers' },
  { type: 'fetch', now: 1, consumer: 'workers', max: 10, maxBytes: 1000 },
  {
    type: 'ack',
    now: 1,
    consumer: 'workers',
    acks: [
      { kind: 'ack', seq: 1, token: 0 },
      { kind: 'nak', seq: 2, token: 5, delayMs: 100, error: 'busy' },
    ],
  },
  { type: 'tick', now: 7 },
  { type: 'dlq-replay', now: 1, seqs: [1, 2] },
];

describe('partition commands', () => {
  it('round-trip through the codec unchanged, and re-encode to the same bytes', () => {
    for (const sample of SAMPLES) {
      const cmd = validatePartitionCommand(sample);
      const bytes = encodePartitionCommand(cmd);
      const back = decodePartitionCommand(bytes);
      assert.equal(hex(encodePartitionCommand(back)), hex(bytes));
      assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(cmd)));
      assert.equal(hex(commandToPropose(sample)), hex(bytes));
    }
  });

  it('decoded payloads are plain copies, not views into the entry', () => {
    const bytes = commandToPropose(SAMPLES[0]);
    const cmd = decodePartitionCommand(bytes) as Extract<PartitionCommand, { type: 'publish' }>;
    const p = cmd.messages[0]!.payload;
    assert.equal(p.constructor, Uint8Array);
    assert.notEqual(p.buffer, bytes.buffer);
    assert.deepEqual([...p], [1, 2]);
  });

  it('strips unknown fields at every level', () => {
    const cmd = validatePartitionCommand({
      type: 'publish',
      now: 1,
      extra: 1,
      messages: [{ subject: 'a', payload: new Uint8Array(0), color: 'red' }],
    });
    assert.deepEqual(Object.keys(cmd), ['type', 'now', 'messages']);
    assert.deepEqual(Object.keys((cmd as unknown as { messages: object[] }).messages[0]!), ['subject', 'payload']);
  });

  it('refuses each wrong field with INVALID_ARGUMENT naming it', () => {
    const msg = { subject: 'a', payload: new Uint8Array(0) };
    const cases: [unknown, RegExp][] = [
      [null, /must be an object/],
      [{ type: 'publish' }, /now must be an integer ≥ 0/],
      [{ type: 'nope', now: 1 }, /unknown partition command type "nope"/],
      [{ type: { toString: 1 }, now: 1 }, /unknown partition command type of type object/],
      [{ type: 'publish', now: 1, messages: [] }, /messages must be an array of 1..1000/],
      [{ type: 'publish', now: 1, messages: new Array(MAX_PUBLISH_BATCH + 1).fill(msg) }, /messages must be an array/],
      [{ type: 'publish', now: 1, messages: [{ ...msg, subject: 'a.*' }] }, /messages\[0\]\.subject uses the wildcard/],
      [{ type: 'publish', now: 1, messages: [msg, { ...msg, payload: 5 }] }, /messages\[1\]\.payload must be bytes/],
      [{ type: 'publish', now: 1, messages: [{ ...msg, key: '' }] }, /messages\[0\]\.key must be a string of 1..1024/],
      [
        { type: 'publish', now: 1, messages: [{ ...msg, headers: { a: 1 } }] },
        /messages\[0\]\.headers\.a must be a string/,
      ],
      [{ type: 'publish', now: 1, messages: [{ ...msg, msgId: 'x'.repeat(257) }] }, /msgId/],
      [{ type: 'publish', now: 1, messages: [{ ...msg, expectedLastSeq: -1 }] }, /expectedLastSeq/],
      [{ type: 'publish', now: 1, messages: [msg], atomic: 'yes' }, /atomic must be a boolean/],
      [{ type: 'stream-create', now: 1, partition: 1, config: { name: 's' } }, /partition must be an integer in 0..0/],
      [{ type: 'stream-update', now: 1, config: { name: 's', partitions: 0 } }, /partitions is 0/],
      [{ type: 'purge', now: 1, belowSeq: 0 }, /belowSeq must be an integer ≥ 1/],
      [{ type: 'fetch', now: 1, consumer: 'a b', max: 1, maxBytes: 1 }, /consumer must be 1..64 letters/],
      [{ type: 'fetch', now: 1, consumer: 'c', max: 0, maxBytes: 1 }, /max must be an integer in 1..10000/],
      [
        { type: 'ack', now: 1, consumer: 'c', acks: [{ kind: 'ok', seq: 1, token: 0 }] },
        /acks\[0\]\.kind must be one of/,
      ],
      [{ type: 'ack', now: 1, consumer: 'c', acks: [{ kind: 'ack', seq: 0, token: 0 }] }, /acks\[0\]\.seq/],
      [{ type: 'dlq-replay', now: 1, seqs: [1, 'x'] }, /seqs\[1\] must be an integer/],
      [{ type: 'consumer-create', now: 1, config: { name: '' } }, /consumer config: name/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => validatePartitionCommand(input),
        { code: 'INVALID_ARGUMENT', message },
        JSON.stringify(input),
      );
    }
  });

  it('refuses a command over the size limit before decoding it', () => {
    assert.throws(() => decodePartitionCommand(new Uint8Array(100), 50), {
      code: 'INVALID_ARGUMENT',
      message: /100 bytes encoded; the limit is 50/,
    });
    const big = { type: 'publish', now: 1, messages: [{ subject: 'a', payload: new Uint8Array(200) }] };
    assert.throws(() => commandToPropose(big, 100), { code: 'INVALID_ARGUMENT' });
  });

  it('decoding is total: any bytes give a command or INVALID_ARGUMENT (property)', () => {
    const valid = SAMPLES.map((s) => commandToPropose(s));
    const mutated = fc
      .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }))
      .map(([b, edits]) => {
        const out = new Uint8Array(b);
        for (const [at, v] of edits) out[at % out.length] = v;
        return out;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (bytes) => {
        try {
          const cmd = decodePartitionCommand(bytes);
          // Whatever decodes is a valid command, and re-validates to itself.
          assert.equal(hex(encodePartitionCommand(validatePartitionCommand(cmd))), hex(encodePartitionCommand(cmd)));
        } catch (err) {
          assert.ok(err instanceof ParleyError && err.code === 'INVALID_ARGUMENT', String(err));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
