import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { type Message, newMessage } from './core/messages.js';
import { batchBySize, messageBytes } from './message-batches.js';
import { type Entry, EntryType } from './types.js';

const packr = new Packr({ useRecords: false });
const entries = (sizes: number[]) =>
  sizes.map((n, i): Entry => ({ index: 2 ** 40 + i, term: 2 ** 33, type: EntryType.Normal, data: new Uint8Array(n) }));
const app = (sizes: number[], to = 'member-b') =>
  newMessage(
    { type: 'MsgApp', to, index: 2 ** 50, logTerm: 2 ** 33, commit: 2 ** 50, entries: entries(sizes) },
    'member-a',
    2 ** 33,
  );

test('messageBytes bounds the msgpack encoding of a message as a transport sends it', () => {
  for (const m of [
    app([]),
    app([0, 0, 0]),
    app([100, 1, 70_000]),
    newMessage({ type: 'MsgHeartbeat', to: 'é'.repeat(100), context: new Uint8Array(33) }, 'x'.repeat(300), 7),
    newMessage(
      {
        type: 'MsgSnap',
        to: 'b',
        snapshot: {
          data: new Uint8Array(5000),
          metadata: {
            index: 2 ** 50,
            term: 2 ** 33,
            confState: {
              voters: ['a', 'b', 'c'],
              votersOutgoing: [],
              learners: [],
              learnersNext: [],
              autoLeave: false,
            },
          },
        },
      },
      'a',
      3,
    ),
  ]) {
    const encoded = packr.pack(m).length;
    assert.ok(encoded <= messageBytes(m), `${m.type}: encoded ${encoded} > estimate ${messageBytes(m)}`);
  }
});

test('batches keep the order, stay within the limit, and a message that cannot fit is reported, not dropped silently', () => {
  const ms: Message[] = [app([100]), app([400]), app([100]), app([5000]), app([10]), app([10])];
  const limit = 1200;
  const { batches, oversized } = batchBySize(ms, limit);
  assert.deepEqual(oversized, [ms[3]]);
  assert.deepEqual(batches.flat(), [ms[0], ms[1], ms[2], ms[4], ms[5]]);
  for (const b of batches) assert.ok(b.reduce((n, m) => n + messageBytes(m), 0) <= limit);
  assert.ok(batches.length >= 2, 'split into several frames');
  assert.deepEqual(batchBySize([], limit), { batches: [], oversized: [] });
});
