import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParleyError } from '../../wire/parley-error.js';
import { checkPlacement, encodePlacement, type Placement, parsePlacement, placeGroups } from './group-placement.js';

const memberIds = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 1, maxLength: 7 });
/** Streams as partition counts: each stream is one placeGroups call continuing where the last left off. */
const streams = fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 8 });

function placeStreams(members: readonly string[], partitions: readonly number[], replicas: number): Placement[] {
  const all: Placement[] = [];
  for (const [s, count] of partitions.entries()) {
    const ids = Array.from({ length: count }, (_, p) => `s${s}-${p}`);
    all.push(...placeGroups(members, ids, replicas, all.length));
  }
  return all;
}

function tally(members: readonly string[], pick: (p: Placement) => readonly string[], ps: readonly Placement[]) {
  const counts = new Map(members.map((m) => [m, 0]));
  for (const p of ps) for (const m of pick(p)) counts.set(m, counts.get(m)! + 1);
  return [...counts.values()];
}

describe('placeGroups', () => {
  it('gives each group min(replicas, members) distinct voters among the members, led by one of them (property)', () => {
    fc.assert(
      fc.property(memberIds, streams, fc.integer({ min: 1, max: 5 }), (members, partitions, replicas) => {
        for (const p of placeStreams(members, partitions, replicas)) {
          assert.equal(p.voters.length, Math.min(replicas, members.length));
          assert.equal(new Set(p.voters).size, p.voters.length);
          for (const v of p.voters) assert.ok(members.includes(v));
          assert.ok(p.voters.includes(p.preferredLeader));
          assert.doesNotThrow(() => checkPlacement(p));
        }
      }),
    );
  });

  it('spreads preferred leaders over streams placed one after the other: counts differ by at most one (property)', () => {
    fc.assert(
      fc.property(memberIds, streams, fc.integer({ min: 1, max: 5 }), (members, partitions, replicas) => {
        const counts = tally(members, (p) => [p.preferredLeader], placeStreams(members, partitions, replicas));
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `leaders per member: ${counts}`);
      }),
    );
  });

  it('spreads voters: every member within [r·⌊G/n⌋, r·⌈G/n⌉], exactly r·G/n when the groups fill whole rounds (property)', () => {
    fc.assert(
      fc.property(memberIds, streams, fc.integer({ min: 1, max: 5 }), (members, partitions, replicas) => {
        const placed = placeStreams(members, partitions, replicas);
        const n = members.length;
        const r = Math.min(replicas, n);
        const g = placed.length;
        const counts = tally(members, (p) => p.voters, placed);
        for (const c of counts) {
          assert.ok(c >= r * Math.floor(g / n) && c <= r * Math.ceil(g / n), `voters per member: ${counts}`);
        }
        if (g % n === 0) assert.ok(counts.every((c) => c === (r * g) / n));
      }),
    );
  });

  it('is deterministic: the order the members are given in does not matter, and streams compose (property)', () => {
    fc.assert(
      fc.property(memberIds, streams, fc.integer({ min: 1, max: 5 }), (members, partitions, replicas) => {
        const reversed = [...members].reverse();
        assert.deepEqual(placeStreams(members, partitions, replicas), placeStreams(reversed, partitions, replicas));
        // Placing the streams one call each equals placing all their groups in one call.
        const ids = placeStreams(members, partitions, replicas).map((p) => p.groupId);
        assert.deepEqual(placeGroups(members, ids, replicas), placeStreams(members, partitions, replicas));
      }),
    );
  });

  it('refuses no members, and replicas or offsets that are not counts', () => {
    assert.throws(
      () => placeGroups([], ['a'], 3),
      (e) => ParleyError.is(e, 'FAILED_PRECONDITION'),
    );
    assert.throws(
      () => placeGroups(['a'], ['g'], 0),
      (e) => ParleyError.is(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => placeGroups(['a'], ['g'], 1, -1),
      (e) => ParleyError.is(e, 'INVALID_ARGUMENT'),
    );
  });
});

describe('placement records', () => {
  it('round-trip through JSON', () => {
    const p: Placement = { groupId: 'orders-3', voters: ['a', 'b', 'c'], preferredLeader: 'b' };
    assert.deepEqual(parsePlacement(encodePlacement(p)), p);
  });

  it('refuse what a host must not act on, saying what is wrong', () => {
    const bad: [unknown, RegExp][] = [
      [null, /expected an object/],
      [{ groupId: '..', voters: ['a'], preferredLeader: 'a' }, /^placement: groupId/],
      [{ groupId: 'a/b', voters: ['a'], preferredLeader: 'a' }, /groupId/],
      [{ groupId: 'g', voters: [], preferredLeader: 'a' }, /voters must list/],
      [{ groupId: 'g', voters: ['a', 'a'], preferredLeader: 'a' }, /distinct/],
      [{ groupId: 'g', voters: ['a', 7], preferredLeader: 'a' }, /member id/],
      [{ groupId: 'g', voters: ['a', 'b'], preferredLeader: 'c' }, /preferredLeader must be one of the voters/],
    ];
    for (const [value, message] of bad) {
      assert.throws(
        () => checkPlacement(value),
        (e) => ParleyError.is(e, 'INVALID_ARGUMENT') && message.test((e as Error).message),
        JSON.stringify(value),
      );
    }
    assert.throws(() => parsePlacement('{'), /not JSON/);
  });
});
