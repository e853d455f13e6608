import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jointCommittedIndex, jointVoteResult, majorityCommittedIndex, majorityVoteResult } from './quorum.js';

/** Brute force: the largest index that at least a majority of voters have acknowledged. */
function bruteCommitted(acked: number[]): number {
  const q = Math.floor(acked.length / 2) + 1;
  let best = 0;
  for (const candidate of acked) if (acked.filter((a) => a >= candidate).length >= q) best = Math.max(best, candidate);
  return best;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

describe('quorum', () => {
  it('the majority commit index is the largest index a majority acknowledged (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 9 }), (acked) => {
        const voters = ids(acked.length);
        const got = majorityCommittedIndex(new Set(voters), (id) => acked[voters.indexOf(id)]);
        assert.equal(got, bruteCommitted(acked));
      }),
    );
  });

  it('an empty config commits everything and wins every vote; unknown voters count as 0', () => {
    assert.equal(
      majorityCommittedIndex(new Set(), () => 5),
      Number.POSITIVE_INFINITY,
    );
    assert.equal(
      majorityVoteResult(new Set(), () => undefined),
      'won',
    );
    assert.equal(
      majorityCommittedIndex(new Set(['a', 'b', 'c']), (id) => (id === 'a' ? 9 : undefined)),
      0,
    );
  });

  it('a vote is won by a majority, lost once a majority cannot be reached, pending otherwise', () => {
    const v = new Set(['a', 'b', 'c']);
    const votes = (m: Record<string, boolean>) => (id: string) => m[id];
    assert.equal(majorityVoteResult(v, votes({ a: true, b: true })), 'won');
    assert.equal(majorityVoteResult(v, votes({ a: true })), 'pending');
    assert.equal(majorityVoteResult(v, votes({ a: false, b: false })), 'lost');
    assert.equal(majorityVoteResult(v, votes({ a: true, b: false })), 'pending');
  });

  it('a joint config commits the minimum of its halves and needs both halves to win (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat({ max: 30 }), { minLength: 0, maxLength: 5 }),
        (inAcked, outAcked) => {
          const incoming = inAcked.map((_, i) => `i${i}`);
          const outgoing = outAcked.map((_, i) => `o${i}`);
          const acked = (id: string) =>
            id.startsWith('i') ? inAcked[Number(id.slice(1))] : outAcked[Number(id.slice(1))];
          const cfg = { incoming: new Set(incoming), outgoing: new Set(outgoing) };
          const expected = Math.min(
            bruteCommitted(inAcked),
            outAcked.length === 0 ? Number.POSITIVE_INFINITY : bruteCommitted(outAcked),
          );
          assert.equal(jointCommittedIndex(cfg, acked), expected);
        },
      ),
    );
    const cfg = { incoming: new Set(['a', 'b', 'c']), outgoing: new Set(['c', 'd', 'e']) };
    assert.equal(
      jointVoteResult(cfg, (id) => ['a', 'b'].includes(id) || undefined),
      'pending',
      'incoming won, outgoing pending',
    );
    assert.equal(
      jointVoteResult(cfg, (id) => ['a', 'b', 'c', 'd'].includes(id)),
      'won',
    );
    assert.equal(
      jointVoteResult(cfg, (id) => ['a', 'b', 'c'].includes(id)),
      'lost',
      'outgoing lost: only c granted',
    );
  });
});
