import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { msgpackCodec } from '../../wire/codec.js';
import type { ParleyError } from '../../wire/parley-error.js';
import { isRaftError } from './errors.js';
import { isLocalMessage, MESSAGE_TYPES, type Message, newMessage } from './messages.js';
import { checkWireMessage, encodeWireMessage } from './wire-message.js';

const valid = (): Message =>
  newMessage({
    type: 'MsgApp',
    from: 'a',
    to: 'b',
    term: 3,
    logTerm: 2,
    index: 10,
    commit: 9,
    entries: [
      { term: 3, index: 11, type: 0, data: new Uint8Array([1]) },
      { term: 3, index: 12, type: 1, data: new Uint8Array([2, 3]) },
    ],
  });

const snapshot = {
  metadata: {
    index: 5,
    term: 2,
    confState: { voters: ['a', 'b'], votersOutgoing: ['c'], learners: ['d'], learnersNext: [], autoLeave: true },
  },
  data: new Uint8Array([7]),
};

/** Slots of the wire tuple, by field name (the layout documented in wire-message.ts). */
const SLOT = {
  type: 0,
  from: 1,
  to: 2,
  term: 3,
  logTerm: 4,
  index: 5,
  commit: 6,
  reject: 7,
  rejectHint: 8,
  leaderTransfer: 9,
  context: 10,
  entries: 11,
  snapshot: 12,
} as const;

/** The wire form of `m` with one slot (or one slot of a nested tuple) replaced. */
function patched(m: Message, edit: (wire: unknown[]) => void): unknown[] {
  const wire = encodeWireMessage(m);
  edit(wire);
  return wire;
}

function rejects(wire: unknown, field: string): void {
  assert.throws(
    () => checkWireMessage(wire),
    (err: unknown) => isRaftError(err, 'invalid-message') && (err as ParleyError).message.includes(field),
    `a bad ${field} must be rejected`,
  );
}

function set(slot: keyof typeof SLOT, value: unknown): unknown[] {
  return patched(valid(), (w) => {
    w[SLOT[slot]] = value;
  });
}

describe('wire form of raft messages', () => {
  it('round-trips every field of every wire type through the msgpack codec', () => {
    for (const type of MESSAGE_TYPES.filter((t) => !isLocalMessage(t))) {
      const m = newMessage({
        ...valid(),
        type,
        reject: true,
        rejectHint: 4,
        leaderTransfer: true,
        context: new Uint8Array([9, 9]),
        snapshot,
      });
      const back = checkWireMessage(msgpackCodec.decode(msgpackCodec.encode(encodeWireMessage(m))));
      assert.deepEqual(
        { ...back, entries: back.entries.map((e) => ({ ...e, data: [...e.data] })) },
        { ...m, entries: m.entries.map((e) => ({ ...e, data: [...e.data] })) },
        type,
      );
    }
  });

  it('carries no field names', () => {
    const text = Buffer.from(msgpackCodec.encode(encodeWireMessage(valid()))).toString('latin1');
    for (const name of Object.keys(valid())) assert.ok(!text.includes(name), `'${name}' is not on the wire`);
  });

  it('rejects terms, indexes and commits that are not safe non-negative integers', () => {
    for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
      for (const badValue of [Number.POSITIVE_INFINITY, 2 ** 53, -1, 1.5, Number.NaN, '3', null, undefined]) {
        rejects(set(field, badValue), field);
      }
    }
    rejects(set('entries', [Number.POSITIVE_INFINITY, 1, 0, new Uint8Array()]), 'entries[0].term');
    rejects(set('entries', [1, 1, 0, new Uint8Array(), 1, 2 ** 53, 0, new Uint8Array()]), 'entries[1].index');
    const snap = (index: unknown, term: unknown) =>
      set('snapshot', [index, term, ['a'], [], [], [], false, new Uint8Array()]);
    rejects(snap(Number.POSITIVE_INFINITY, 1), 'snapshot.metadata.index');
    rejects(snap(1, -1), 'snapshot.metadata.term');
  });

  it('rejects fields of the wrong type and tuples of the wrong length', () => {
    const code = (t: string) => MESSAGE_TYPES.indexOf(t as never);
    for (const local of MESSAGE_TYPES.filter(isLocalMessage)) rejects(set('type', code(local)), 'type');
    rejects(set('type', MESSAGE_TYPES.length), 'type');
    rejects(set('type', 'MsgApp'), 'type');
    rejects(set('type', 8.5), 'type');
    rejects(set('from', ''), 'from');
    rejects(set('from', 7), 'from');
    rejects(set('to', 'x'.repeat(300)), 'to');
    rejects(set('entries', 'no'), 'entries');
    rejects(set('entries', [1, 1, 0]), 'entries');
    rejects(set('entries', [1, 1, 2, new Uint8Array()]), 'entries[0].type');
    rejects(set('entries', [1, 1, 0, 'text']), 'entries[0].data');
    rejects(set('snapshot', 'x'), 'snapshot');
    rejects(set('snapshot', [1, 1, ['a'], [], [], [], false]), 'snapshot');
    rejects(set('snapshot', [1, 1, [1], [], [], [], false, new Uint8Array()]), 'voters');
    rejects(set('snapshot', [1, 1, ['a'], [], [], [], 0, new Uint8Array()]), 'autoLeave');
    rejects(set('reject', 'yes'), 'reject');
    rejects(set('leaderTransfer', 1), 'leaderTransfer');
    rejects(set('context', 'ctx'), 'context');
    rejects([...encodeWireMessage(valid()), 'extra'], 'message');
    rejects(encodeWireMessage(valid()).slice(0, 12), 'message');
    rejects({ ...valid() }, 'message');
    rejects(null, 'message');
  });
});
