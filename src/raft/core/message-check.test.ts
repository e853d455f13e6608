import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParleyError } from '../../wire/parley-error.js';
import { isRaftError } from './errors.js';
import { checkWireMessage } from './message-check.js';
import { newMessage } from './messages.js';

const valid = () => ({
  ...newMessage({
    type: 'MsgApp',
    from: 'a',
    to: 'b',
    term: 3,
    logTerm: 2,
    index: 10,
    commit: 9,
    entries: [{ term: 3, index: 11, type: 0, data: new Uint8Array([1]) }],
  }),
});

function rejects(patch: Record<string, unknown>, field: string): void {
  const raw = { ...valid(), ...patch };
  assert.throws(
    () => checkWireMessage(raw),
    (err: unknown) => isRaftError(err, 'invalid-message') && (err as ParleyError).message.includes(field),
    `${JSON.stringify(Object.keys(patch))} must be rejected`,
  );
}

describe('checkWireMessage', () => {
  it('accepts a well-formed message and copies only the Message fields', () => {
    const m = checkWireMessage({ ...valid(), extra: 'x'.repeat(1000) });
    assert.deepEqual(m, valid());
    assert.equal((m as unknown as Record<string, unknown>).extra, undefined);
  });

  it('accepts a snapshot message', () => {
    const snapshot = {
      metadata: {
        index: 5,
        term: 2,
        confState: { voters: ['a', 'b'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false },
      },
      data: new Uint8Array([7]),
    };
    assert.deepEqual(checkWireMessage({ ...valid(), type: 'MsgSnap', entries: [], snapshot }).snapshot, snapshot);
  });

  it('rejects terms, indexes and commits that are not safe non-negative integers', () => {
    for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint']) {
      for (const bad of [Number.POSITIVE_INFINITY, 2 ** 53, -1, 1.5, Number.NaN, '3', null, undefined]) {
        rejects({ [field]: bad }, field);
      }
    }
    rejects(
      { entries: [{ term: Number.POSITIVE_INFINITY, index: 1, type: 0, data: new Uint8Array() }] },
      'entries[0].term',
    );
    rejects({ entries: [{ term: 1, index: 2 ** 53, type: 0, data: new Uint8Array() }] }, 'entries[0].index');
    const snap = (metadata: unknown) => ({ type: 'MsgSnap', snapshot: { metadata, data: new Uint8Array() } });
    const cs = { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
    rejects(snap({ index: Number.POSITIVE_INFINITY, term: 1, confState: cs }), 'snapshot.metadata.index');
    rejects(snap({ index: 1, term: -1, confState: cs }), 'snapshot.metadata.term');
  });

  it('rejects fields of the wrong type', () => {
    rejects({ type: 'MsgHup' }, 'type');
    rejects({ type: 'MsgBeat' }, 'type');
    rejects({ type: 'MsgNope' }, 'type');
    rejects({ from: '' }, 'from');
    rejects({ from: 7 }, 'from');
    rejects({ to: 'x'.repeat(300) }, 'to');
    rejects({ entries: 'no' }, 'entries');
    rejects({ entries: [{ term: 1, index: 1, type: 2, data: new Uint8Array() }] }, 'entries[0].type');
    rejects({ entries: [{ term: 1, index: 1, type: 0, data: 'text' }] }, 'entries[0].data');
    rejects({ snapshot: 'x' }, 'snapshot');
    rejects(
      { snapshot: { metadata: { index: 1, term: 1, confState: { voters: [1] } }, data: new Uint8Array() } },
      'voters',
    );
    rejects({ reject: 'yes' }, 'reject');
    rejects({ leaderTransfer: 1 }, 'leaderTransfer');
    rejects({ context: 'ctx' }, 'context');
    assert.throws(
      () => checkWireMessage(null),
      (e: unknown) => isRaftError(e, 'invalid-message'),
    );
    assert.throws(
      () => checkWireMessage([1, 2]),
      (e: unknown) => isRaftError(e, 'invalid-message'),
    );
  });
});
