import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MiniCluster, text, untext } from '../testing/mini-cluster.js';
import { isRaftError } from './errors.js';

const appliedOn = (c: MiniCluster, id: string): string[] => c.member(id).applied.map((e) => untext(e.data));

describe('RawNode', () => {
  it('bootstraps the configuration from the log and elects one leader', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    c.settle();
    assert.deepEqual(c.member('b').node.status().config.voters.slice().sort(), ['a', 'b', 'c']);
    const lead = c.electLeader();
    const leaders = [...c.members.values()].filter((m) => m.node.status().role === 'leader');
    assert.equal(leaders.length, 1);
    for (const m of c.members.values()) assert.equal(m.node.status().lead, lead);
  });

  it('replicates proposals from the leader and from followers (forwarded) to every member in order', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    const lead = c.electLeader();
    const follower = ['a', 'b', 'c'].find((id) => id !== lead)!;
    c.member(lead).node.propose(text('x1'));
    c.member(follower).node.propose(text('x2'));
    c.settle();
    c.tick(2);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(appliedOn(c, id), ['x1', 'x2']);
  });

  it('a single voter elects itself and commits alone', () => {
    const c = new MiniCluster(['solo']);
    c.electLeader();
    c.member('solo').node.propose(text('p'));
    c.settle();
    assert.deepEqual(appliedOn(c, 'solo'), ['p']);
  });

  it('a follower without a leader refuses proposals with proposal-dropped', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    c.settle();
    assert.throws(
      () => c.member('a').node.propose(text('p')),
      (err: unknown) => isRaftError(err, 'proposal-dropped'),
    );
  });

  it('a leader cut off from the majority loses it; the rest elect a new leader and keep committing', () => {
    const c = new MiniCluster(['a', 'b', 'c'], { checkQuorum: true, preVote: true });
    const old = c.electLeader();
    c.isolate(old);
    c.tick(40);
    assert.notEqual(c.member(old).node.status().role, 'leader', 'check-quorum steps the isolated leader down');
    const fresh = [...c.members.values()].find((m) => m.id !== old && m.node.status().role === 'leader');
    assert.ok(fresh, 'the majority elected a new leader');
    fresh.node.propose(text('after'));
    c.settle();
    c.heal();
    c.tick(5);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(appliedOn(c, id), ['after']);
  });

  it('serves ReadIndex on the leader and through a follower at an index covering every earlier commit', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    const lead = c.electLeader();
    c.member(lead).node.propose(text('w'));
    c.settle();
    const committed = c.member(lead).node.status().commit;
    const follower = ['a', 'b', 'c'].find((id) => id !== lead)!;
    c.member(follower).node.readIndex(text('via-follower'));
    c.member(lead).node.readIndex(text('on-leader'));
    c.settle();
    const f = c.member(follower).reads.map((r) => [untext(r.requestContext), r.index]);
    const l = c.member(lead).reads.map((r) => [untext(r.requestContext), r.index]);
    assert.deepEqual(f, [['via-follower', committed]]);
    assert.deepEqual(l, [['on-leader', committed]]);
  });

  it('a ReadIndex on an isolated leader is never answered', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    const lead = c.electLeader();
    c.isolate(lead);
    c.member(lead).node.readIndex(text('stale?'));
    c.tick(3);
    assert.deepEqual(c.member(lead).reads, []);
  });

  it('transfers leadership to a caught-up follower', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    const lead = c.electLeader();
    const to = ['a', 'b', 'c'].find((id) => id !== lead)!;
    c.member(lead).node.transferLeadership(to);
    c.settle();
    assert.equal(c.member(to).node.status().role, 'leader');
    assert.equal(c.member(lead).node.status().role, 'follower');
  });

  it('adds a member that learns the configuration and the log from the leader', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    const lead = c.electLeader();
    c.member(lead).node.propose(text('before'));
    c.settle();
    c.add('d');
    c.member(lead).node.proposeConfChange({ transition: 'Auto', changes: [{ type: 'AddNode', nodeId: 'd' }] });
    c.settle();
    c.tick(3);
    assert.deepEqual(c.member('d').node.status().config.voters.slice().sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual(appliedOn(c, 'd'), ['before']);
  });

  it('catches a lagging follower up from a snapshot after the leader compacted its log', () => {
    const c = new MiniCluster(['a', 'b', 'c']);
    const lead = c.electLeader();
    const lagger = ['a', 'b', 'c'].find((id) => id !== lead)!;
    c.isolate(lagger);
    for (let i = 0; i < 20; i++) c.member(lead).node.propose(text(`e${i}`));
    c.settle();
    c.tick(2);
    const ls = c.member(lead);
    const applied = ls.node.status().applied;
    ls.storage.createSnapshot(applied, ls.node.status().config, text(JSON.stringify(appliedOn(c, lead))));
    ls.storage.compact(applied);
    c.heal();
    c.tick(5);
    const lg = c.member(lagger);
    assert.equal(lg.storage.snapshot().metadata.index, applied, 'the follower installed the leader snapshot');
    assert.equal(lg.node.status().commit, ls.node.status().commit);
  });
});
