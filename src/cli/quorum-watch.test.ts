import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../base/testing/fake-clock.js';
import { type MemberView, watchQuorum } from './quorum-watch.js';

function member(state: { leader: string | null; connected: string[] }): MemberView {
  return {
    id: 's1',
    leader: () => state.leader,
    voters: () => ['s1', 's2', 's3'],
    connected: () => state.connected,
    addressOf: (id) => (id === 's3' ? null : `127.0.0.1:${7400 + Number(id.slice(1))}`),
  };
}

describe('watchQuorum', () => {
  it('says nothing when a leader appears within the quiet time', () => {
    const clock = new FakeClock();
    const state = { leader: null as string | null, connected: ['s2'] };
    const lines: string[] = [];
    const stop = watchQuorum(member(state), (l) => lines.push(l), { timer: clock });
    clock.advance(2000);
    state.leader = 's2';
    clock.advance(10_000);
    stop();
    assert.deepEqual(lines, []);
  });

  it('after the quiet time says once whom it misses, then when a leader appears', () => {
    const clock = new FakeClock();
    const state = { leader: null as string | null, connected: [] as string[] };
    const lines: string[] = [];
    const stop = watchQuorum(member(state), (l) => lines.push(l), { timer: clock });
    clock.advance(2750);
    assert.deepEqual(lines, []);
    clock.advance(500);
    clock.advance(10_000);
    assert.deepEqual(lines, [
      'parley server s1: no leader yet, waiting for a quorum (2 of 3 members): 1 reachable; ' +
        'start or check s2 at 127.0.0.1:7402, s3 at an unknown address',
    ]);
    state.connected = ['s2'];
    state.leader = 's2';
    clock.advance(250);
    assert.equal(lines.at(-1), 'parley server s1: the cluster has a leader: s2');
    // Losing the leader starts a new quiet period; a new leader is reported.
    state.leader = null;
    clock.advance(1000);
    state.leader = 's1';
    clock.advance(250);
    assert.equal(lines.at(-1), 'parley server s1: the cluster has a leader: s1');
    stop();
    const count = lines.length;
    clock.advance(60_000);
    assert.equal(lines.length, count, 'nothing after stop()');
    assert.equal(clock.pendingTimers, 0);
  });
});
