import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ParleyError } from '../wire/parley-error.js';
import { decodeProposal, encodeProposal, leadershipLost, ProposalTracker } from './driver-proposals.js';

test('the proposal envelope round-trips origin, seq and payload', () => {
  fc.assert(
    fc.property(fc.string(), fc.nat(), fc.uint8Array({ maxLength: 64 }), (origin, seq, payload) => {
      const d = decodeProposal(encodeProposal(origin, seq, payload));
      assert.ok(d);
      assert.equal(d.origin, origin);
      assert.equal(d.seq, seq);
      assert.deepEqual([...d.payload], [...payload]);
    }),
    { seed: 3, numRuns: 200 },
  );
  assert.equal(decodeProposal(new Uint8Array(0)), null, 'the leader no-op has no envelope');
});

test('an applied entry settles exactly the proposal it carries, whatever order they apply in', async () => {
  const t = new ProposalTracker<string>('a');
  const p1 = t.track(new Uint8Array([1]));
  const p2 = t.track(new Uint8Array([2]));
  // Another member's proposal with the same seq must not settle ours.
  t.applied(decodeProposal(encodeProposal('b', p1.seq, new Uint8Array([9])))!, 'wrong');
  t.applied(decodeProposal(p2.data)!, 'two');
  t.applied(decodeProposal(p1.data)!, 'one');
  assert.equal(await p1.result, 'one');
  assert.equal(await p2.result, 'two');
  assert.equal(t.size, 0);
  // Re-applying (e.g. after a restart replay) answers no one and does not throw.
  t.applied(decodeProposal(p1.data)!, 'again');
});

test('leadership loss rejects pending proposals with UNAVAILABLE; a late apply is ignored', async () => {
  const t = new ProposalTracker<number>('a');
  const p = t.track(new Uint8Array([1]));
  t.rejectAll(leadershipLost());
  await assert.rejects(p.result, (e) => ParleyError.is(e, 'UNAVAILABLE') && e.message.includes('may or may not'));
  t.applied(decodeProposal(p.data)!, 1);
  assert.equal(t.size, 0);
});
