import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MiniCluster, text, untext } from '../testing/mini-cluster.js';
import type { NodeId } from '../types.js';
import { EntryType } from '../types.js';
import { decodeConfChange } from './conf-change.js';
import type { UnsafeTestingHooks } from './config.js';
import { type Message, newMessage } from './messages.js';

/**
 * One targeted scenario per safety property of the Raft paper (Ongaro & Ousterhout 2014,
 * figure 3), plus the mechanisms around them. MiniCluster delivers messages synchronously and
 * ticks only when told, so each scenario is exact; the simulator (../sim/) covers the same
 * properties under random faults.
 */

const ids = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => `s${i + 1}`);
const role = (c: MiniCluster, id: NodeId) => c.member(id).node.status().role;
const term = (c: MiniCluster, id: NodeId) => c.member(id).node.status().term;
const commit = (c: MiniCluster, id: NodeId) => c.member(id).node.status().commit;
const lastIndex = (c: MiniCluster, id: NodeId) => c.member(id).storage.lastIndex();
const appliedOn = (c: MiniCluster, id: NodeId): string[] => c.member(id).applied.map((e) => untext(e.data));

/** The persisted log of a member as "index:term" strings (after settle(), everything is persisted). */
function logOf(c: MiniCluster, id: NodeId): string[] {
  const s = c.member(id).storage;
  const out: string[] = [];
  for (let i = s.firstIndex(); i <= s.lastIndex(); i++) out.push(`${i}:${s.term(i)}`);
  return out;
}

/** The persisted log with payloads, "index:term:hex(data)": an entry rewritten in place shows. */
function fullLogOf(c: MiniCluster, id: NodeId): string[] {
  const s = c.member(id).storage;
  return s
    .entries(s.firstIndex(), s.lastIndex() + 1, Number.MAX_SAFE_INTEGER)
    .map((e) => `${e.index}:${e.term}:${Buffer.from(e.data).toString('hex')}`);
}

/** Crash and restart: a new RawNode over the same (persisted) storage; volatile state is lost. */
function restart(c: MiniCluster, id: NodeId): void {
  const storage = c.member(id).storage;
  c.members.delete(id);
  c.add(id, storage);
}

/** Campaigns until `id` wins (a first try may lose to votes already cast in that term). */
function elect(c: MiniCluster, id: NodeId): void {
  for (let i = 0; i < 5 && role(c, id) !== 'leader'; i++) {
    c.member(id).node.campaign();
    c.settle();
  }
  assert.equal(role(c, id), 'leader', `${id} should win an election`);
}

function assertPrefixes(c: MiniCluster): void {
  const seqs = [...c.members.keys()].map((id) => appliedOn(c, id));
  for (const a of seqs) for (const b of seqs) assert.deepEqual(a.slice(0, b.length), b.slice(0, a.length));
}

describe('Raft paper §5: safety properties', () => {
  it('election safety: two candidates in the same term, at most one wins, and a vote survives a restart', () => {
    const c = new MiniCluster(ids(5));
    c.settle();
    // s1 and s2 campaign at once: both are candidates of the same term before any vote arrives.
    c.member('s1').node.campaign();
    c.member('s2').node.campaign();
    c.settle();
    assert.equal(term(c, 's1'), term(c, 's2'));
    const leaders = [...c.members.keys()].filter((id) => role(c, id) === 'leader');
    assert.ok(leaders.length <= 1, `two leaders in one term: ${leaders}`);
    // A voter restarted from its storage remembers its vote and refuses the other candidate of that term.
    const votedFor = c.member('s3').node.status().vote;
    assert.ok(votedFor === 's1' || votedFor === 's2', 's3 voted in that election');
    const other = votedFor === 's1' ? 's2' : 's1';
    const t = term(c, 's3');
    restart(c, 's3');
    const s3 = c.member('s3').node;
    assert.equal(s3.status().vote, votedFor);
    s3.step(newMessage({ type: 'MsgVote', from: other, to: 's3', term: t, index: 100, logTerm: t }));
    const resp = s3.ready().messages.find((m) => m.type === 'MsgVoteResp');
    assert.ok(resp?.reject, `a restarted voter granted a second vote in term ${t}`);
  });

  it('leader append-only: through its whole term a leader only appends to its log, keeping the uncommitted tail it was elected with', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.member('s1').node.propose(text('a'));
    c.settle();
    // s1, cut off, appends entries of its term that nobody else has: they will conflict.
    c.isolate('s1');
    for (const x of ['x1', 'x2', 'x3']) c.member('s1').node.propose(text(x));
    c.settle();
    c.heal();
    c.isolate('s1');
    elect(c, 's2');
    c.member('s2').node.propose(text('y1'));
    c.settle();
    // s2, cut off in turn, appends a tail of its own term that is not committed.
    c.heal();
    c.isolate('s2');
    for (const z of ['z1', 'z2', 'z3']) c.member('s2').node.propose(text(z));
    c.settle();
    c.heal();
    // From now on, every time a message is delivered, s2's log as leader (index, term AND data)
    // must extend what it was at the previous delivery of the same term: never rewritten, never shorter.
    let watched: { term: number; log: string[] } | null = null;
    let observations = 0;
    c.drop = () => {
      if (role(c, 's2') !== 'leader') return false;
      const now = { term: term(c, 's2'), log: fullLogOf(c, 's2') };
      if (watched !== null && watched.term === now.term) {
        assert.deepEqual(
          now.log.slice(0, watched.log.length),
          watched.log,
          'the leader rewrote or dropped its entries',
        );
        observations++;
      }
      watched = now;
      return false;
    };
    // s2 wins again (its last term is the highest among the logs s3 compares), probes s1's
    // conflicting tail back, replicates its own uncommitted tail, and takes new proposals.
    elect(c, 's2');
    for (const w of ['w1', 'w2']) c.member('s2').node.propose(text(w));
    c.settle();
    c.tick(4);
    c.drop = null;
    assert.ok(observations > 10, `the leader's log was observed along the way (${observations} times)`);
    const expected = ['a', 'y1', 'z1', 'z2', 'z3', 'w1', 'w2'];
    for (const id of ids(3)) {
      assert.deepEqual(appliedOn(c, id), expected, `${id} applied the leader's log, its elected tail included`);
      assert.deepEqual(fullLogOf(c, id), fullLogOf(c, 's2'), `${id}'s log is the leader's`);
    }
  });

  it('log matching: a follower refuses entries whose predecessor does not match, and healed logs are identical', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.member('s1').node.propose(text('a'));
    c.settle();
    // Divergence: s1 isolated appends entries nobody else gets; s2 leads a new term and commits others.
    c.isolate('s1');
    c.member('s1').node.propose(text('lost-1'));
    c.member('s1').node.propose(text('lost-2'));
    c.settle();
    c.heal();
    c.isolate('s1');
    elect(c, 's2');
    c.member('s2').node.propose(text('b'));
    c.settle();
    // Consistency check: a MsgApp whose (index, term) predecessor s3 does not hold is rejected.
    const s3Last = lastIndex(c, 's3');
    const s3Log = logOf(c, 's3');
    c.member('s3').node.step(
      newMessage({
        type: 'MsgApp',
        from: 's2',
        to: 's3',
        term: term(c, 's2'),
        index: s3Last,
        logTerm: 99,
        entries: [{ term: term(c, 's2'), index: s3Last + 1, type: 0, data: text('x') }],
      }),
    );
    const rd = c.member('s3').node.ready();
    c.member('s3').node.advance();
    assert.ok(rd.messages.some((m) => m.type === 'MsgAppResp' && m.reject));
    assert.deepEqual(logOf(c, 's3'), s3Log);
    c.heal();
    c.tick(3);
    assert.deepEqual(logOf(c, 's1'), logOf(c, 's2'));
    assert.deepEqual(logOf(c, 's3'), logOf(c, 's2'));
    assert.deepEqual(appliedOn(c, 's1'), ['a', 'b']);
  });

  it('leader completeness: a member lacking a committed entry cannot become leader; the leader elected has it', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.isolate('s3');
    c.member('s1').node.propose(text('committed'));
    c.settle();
    const k = commit(c, 's1');
    assert.deepEqual(appliedOn(c, 's1'), ['committed']);
    // s1 goes down; s3 (missing the entry) comes back and campaigns.
    c.heal();
    c.isolate('s1');
    for (let i = 0; i < 3; i++) {
      c.member('s3').node.campaign();
      c.settle();
      assert.notEqual(role(c, 's3'), 'leader', 's3 won without the committed entry');
    }
    elect(c, 's2');
    assert.ok(lastIndex(c, 's2') >= k);
    c.tick(2);
    assert.deepEqual(appliedOn(c, 's3'), ['committed']);
  });

  it('state machine safety: under shifting partitions every member applies the same sequence', () => {
    const c = new MiniCluster(ids(5), { preVote: true, checkQuorum: true });
    const groups: NodeId[][] = [['s1'], ['s2', 's3'], ['s4'], ['s5', 's1'], []];
    let n = 0;
    for (let round = 0; round < 20; round++) {
      c.heal();
      for (const id of groups[round % groups.length]!) c.isolate(id);
      c.tick(25);
      for (const m of c.members.values()) {
        try {
          m.node.propose(text(`p${n++}`));
        } catch {
          // no leader on this side
        }
      }
      c.settle();
      assertPrefixes(c);
    }
    c.heal();
    c.tick(30);
    assertPrefixes(c);
    const lens = [...c.members.keys()].map((id) => appliedOn(c, id).length);
    assert.ok(Math.min(...lens) > 10, `too little was committed: ${lens}`);
    assert.equal(new Set(lens).size, 1, 'after healing every member applied everything');
  });
});

describe('Raft paper §5.4.2: committing entries from previous terms (figure 8)', () => {
  /**
   * Figure 8: s1 (term 2) replicates entry k to s2 only; s5 wins term 3 and writes its own entry
   * at k without replicating it; s1 comes back, wins a later term and replicates k to s3 and s4
   * (a majority) but not yet its own no-op; s1 goes down and s5, whose last term is higher, wins
   * with s2, s3, s4 and overwrites k everywhere. So k must not count as committed in step (c).
   */
  function figure8(hooks?: UnsafeTestingHooks) {
    const c = new MiniCluster(ids(5), { maxSizePerMsg: 0, ...(hooks ? { unsafeTestingHooks: hooks } : {}) });
    c.settle();
    elect(c, 's1');
    // (a) k reaches s2 only.
    for (const to of ['s3', 's4', 's5']) c.cut.add(`s1->${to}`);
    c.member('s1').node.propose(text('old'));
    c.settle();
    const k = lastIndex(c, 's1');
    // (b) s1 down; s5 wins with s3, s4 and writes its no-op at k, which reaches nobody.
    c.heal();
    c.isolate('s1');
    c.drop = (m) => m.from === 's5' && m.type === 'MsgApp';
    elect(c, 's5');
    assert.equal(c.member('s5').storage.term(k), term(c, 's5'));
    // (c) s5 down; s1 restarts and wins a later term and replicates k, one entry per message, to s3 and s4,
    // while every MsgApp carrying its own new no-op to a member that already holds k is lost.
    restart(c, 's1');
    c.heal();
    c.isolate('s5');
    c.drop = null;
    const termBefore = term(c, 's1');
    c.drop = (m) =>
      m.from === 's1' &&
      m.type === 'MsgApp' &&
      m.entries.some((e) => e.term > termBefore && e.term === term(c, 's1')) &&
      c.member(m.to).storage.lastIndex() >= k;
    elect(c, 's1');
    c.settle();
    const s1CommitAfterC = commit(c, 's1');
    const replicated = ['s1', 's2', 's3', 's4'].filter(
      (id) => c.member(id).storage.term(k) === c.member('s1').storage.term(k),
    );
    // (d) s1 down; s5 restarts and wins with s2, s3, s4 (its last term is higher) and overwrites k.
    c.heal();
    c.drop = null;
    c.isolate('s1');
    restart(c, 's5');
    elect(c, 's5');
    c.member('s5').node.propose(text('new'));
    c.settle();
    return { c, k, s1CommitAfterC, replicated };
  }

  it('a leader does not count replicas of an older-term entry: k on a majority is not committed, and overwriting it is safe', () => {
    const { c, k, s1CommitAfterC, replicated } = figure8();
    assert.equal(replicated.length, 4, 'k was on a majority in step (c)');
    assert.ok(s1CommitAfterC < k, `s1 committed k=${k} from term 2 by counting replicas (commit ${s1CommitAfterC})`);
    assert.deepEqual(appliedOn(c, 's1'), []);
    assert.ok(commit(c, 's2') >= k);
    assert.equal(c.member('s2').storage.term(k), c.member('s5').storage.term(k));
  });

  it('the same script with commitEntriesFromPreviousTerms (the bug the rule prevents) loses a committed entry', () => {
    const { c, k, s1CommitAfterC } = figure8({ commitEntriesFromPreviousTerms: true });
    assert.ok(s1CommitAfterC >= k, 'with the hook, s1 commits k by counting replicas');
    assert.deepEqual(appliedOn(c, 's1'), ['old'], 's1 applied the term-2 entry at k');
    assert.ok(commit(c, 's2') >= k);
    assert.notEqual(
      c.member('s2').storage.term(k),
      2,
      's2 committed a different entry at k: state machine safety is broken',
    );
  });
});

describe('Raft mechanisms: elections, forwarding, reads, transfer, membership', () => {
  it('pre-vote and check-quorum: an isolated follower does not inflate its term, an isolated leader steps down, rejoining disrupts nothing', () => {
    const c = new MiniCluster(ids(3), { preVote: true, checkQuorum: true });
    elect(c, 's1');
    const t = term(c, 's1');
    c.isolate('s3');
    c.tick(100);
    assert.equal(term(c, 's3'), t, 'pre-vote failed, so the term did not move');
    c.heal();
    c.tick(5);
    assert.equal(role(c, 's1'), 'leader');
    assert.equal(term(c, 's1'), t);
    c.isolate('s1');
    c.tick(30);
    assert.notEqual(role(c, 's1'), 'leader', 'check-quorum: no majority heard within an election timeout');
  });

  it('without pre-vote the same isolated follower does disrupt the leader when it rejoins (what pre-vote prevents)', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    const t = term(c, 's1');
    c.isolate('s3');
    c.tick(100);
    assert.ok(term(c, 's3') > t);
    c.heal();
    c.tick(2);
    assert.ok(term(c, 's1') > t, 'the leader was deposed by the higher term');
  });

  it('a deposed leader steps down on a higher term and its uncommitted entries are replaced', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.isolate('s1');
    c.member('s1').node.propose(text('lost'));
    c.settle();
    c.heal();
    c.isolate('s1');
    elect(c, 's2');
    c.member('s2').node.propose(text('kept'));
    c.settle();
    c.heal();
    c.tick(3);
    assert.equal(role(c, 's1'), 'follower');
    assert.equal(c.member('s1').node.status().lead, 's2');
    for (const id of ids(3)) assert.deepEqual(appliedOn(c, id), ['kept']);
    assert.deepEqual(logOf(c, 's1'), logOf(c, 's2'));
  });

  it('followers forward proposals to the leader; a forwarded proposal reaching a node without a leader is dropped, not thrown', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.member('s3').node.propose(text('via-s3'));
    c.settle();
    for (const id of ids(3)) assert.deepEqual(appliedOn(c, id), ['via-s3']);
    // Regression (found by the simulator): s2 without a leader got a forwarded MsgProp and threw proposal-dropped out of step().
    const lone = new MiniCluster(ids(3));
    lone.settle();
    lone.member('s2').node.step(
      newMessage({
        type: 'MsgProp',
        from: 's3',
        to: 's2',
        entries: [{ term: 0, index: 0, type: 0, data: text('x') }],
      }),
    );
    assert.equal(lone.member('s2').node.hasReady(), false);
  });

  it('ReadIndex: a new leader answers only once an entry of its term commits, at an index covering every earlier write', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.member('s1').node.propose(text('w1'));
    c.settle();
    const written = commit(c, 's1');
    // s2 takes over; hold back the acknowledgements of its no-op.
    c.drop = (m) => m.type === 'MsgAppResp' && m.to === 's2';
    elect(c, 's2');
    c.member('s3').node.readIndex(text('r'));
    c.member('s2').node.readIndex(text('r-leader'));
    c.settle();
    assert.deepEqual(c.member('s2').reads, [], 'answered before the new leader committed an entry of its term');
    c.drop = null;
    c.tick(2);
    const reads = [...c.member('s2').reads, ...c.member('s3').reads];
    assert.deepEqual(reads.map((r) => untext(r.requestContext)).sort(), ['r', 'r-leader']);
    for (const r of reads)
      assert.ok(r.index > written, `read index ${r.index} misses the write at ${written} or the no-op`);
  });

  it('leader transfer to a lagging follower: proposals are refused meanwhile, the target catches up first, then leads', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.isolate('s3');
    for (let i = 0; i < 5; i++) c.member('s1').node.propose(text(`e${i}`));
    c.settle();
    c.heal();
    c.member('s1').node.transferLeadership('s3');
    assert.throws(() => c.member('s1').node.propose(text('during')), /leadership is being transferred/);
    c.settle();
    assert.equal(role(c, 's3'), 'leader');
    assert.equal(role(c, 's1'), 'follower');
    c.member('s3').node.propose(text('after'));
    c.settle();
    c.tick(2);
    for (const id of ids(3)) assert.deepEqual(appliedOn(c, id), ['e0', 'e1', 'e2', 'e3', 'e4', 'after']);
  });

  it('joint consensus: while joint, a commit needs a majority of BOTH configurations; leaving it removes the old member', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.add('s4');
    c.member('s1').node.proposeConfChange({
      transition: 'JointExplicit',
      changes: [
        { type: 'AddNode', nodeId: 's4' },
        { type: 'RemoveNode', nodeId: 's3' },
      ],
    });
    c.settle();
    c.tick(2);
    const joint = c.member('s1').node.status().config;
    assert.deepEqual([...joint.voters].sort(), ['s1', 's2', 's4']);
    assert.deepEqual([...joint.votersOutgoing].sort(), ['s1', 's2', 's3']);
    // Old majority {s1, s3} is reachable, new majority is not ({s1} of s1, s2, s4).
    c.isolate('s2');
    c.isolate('s4');
    const before = commit(c, 's1');
    c.member('s1').node.propose(text('needs-both'));
    c.tick(3);
    assert.equal(commit(c, 's1'), before, 'committed with only the outgoing majority');
    c.heal();
    c.tick(3);
    assert.ok(commit(c, 's1') > before);
    c.member('s1').node.proposeConfChange({ transition: 'Auto', changes: [] });
    c.settle();
    c.tick(2);
    const final = c.member('s1').node.status().config;
    assert.deepEqual([...final.voters].sort(), ['s1', 's2', 's4']);
    assert.deepEqual(final.votersOutgoing, []);
    assert.deepEqual(appliedOn(c, 's4'), ['needs-both']);
  });

  it('regression (found by the simulator): a heartbeat response to a follower with a full inflights buffer sends an empty MsgApp instead of throwing', () => {
    const c = new MiniCluster(ids(3), { maxInflightMsgs: 1 });
    elect(c, 's1');
    c.member('s1').node.propose(text('warm-up'));
    c.settle();
    c.drop = (m) => m.type === 'MsgApp' && m.to === 's2'; // heartbeats still get through
    c.member('s1').node.propose(text('a')); // fills s2's single inflight slot, then is lost
    c.settle();
    c.member('s1').node.propose(text('b'));
    c.settle();
    // s2's heartbeat response unpauses it (stepped directly: MiniCluster.settle swallows step errors).
    const hbResp = newMessage({ type: 'MsgHeartbeatResp', from: 's2', to: 's1', term: term(c, 's1') });
    assert.doesNotThrow(() => c.member('s1').node.step(hbResp));
    const toS2 = c
      .member('s1')
      .node.ready()
      .messages.filter((m) => m.type === 'MsgApp' && m.to === 's2');
    c.member('s1').node.advance();
    assert.deepEqual(
      toS2.map((m) => m.entries.length),
      [0],
      'an empty MsgApp, since the inflights buffer is full',
    );
    c.drop = null;
    c.tick(3);
    assert.deepEqual(appliedOn(c, 's2'), ['warm-up', 'a', 'b']);
  });
});

describe('regressions found by the simulator', () => {
  it('a snapshot arriving while a Ready with a committed conf change is being applied is refused until it is applied', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    // s2 leaves the automatic loop: its messages are captured and its Readys handled by hand.
    const s2 = c.member('s2');
    const toS2: Message[] = [];
    c.drop = (m) => m.to === 's2' && toS2.push(m) > 0;
    c.add('s4');
    c.member('s1').node.proposeConfChange({
      transition: 'JointExplicit',
      changes: [{ type: 'AddLearnerNode', nodeId: 's4' }],
    });
    c.settle();
    c.tick(2);
    const joint = c.member('s1').node.status();
    assert.deepEqual(joint.config.votersOutgoing.length > 0, true);
    // s2 receives the change and its commit, and takes the Ready that hands it out for applying.
    c.members.delete('s2');
    for (const m of toS2.splice(0)) if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat') s2.node.step(m);
    let outstanding: ReturnType<typeof s2.node.ready> | null = null;
    while (s2.node.hasReady() && outstanding === null) {
      const rd = s2.node.ready();
      s2.storage.save(rd.hardState, rd.entries, rd.snapshot);
      if (rd.committedEntries.some((e) => e.type === EntryType.ConfChange && e.index > 3)) outstanding = rd;
      else {
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.ConfChange) s2.node.applyConfChange(decodeConfChange(e.data));
        }
        s2.node.advance();
      }
    }
    assert.ok(outstanding, 's2 was handed the joint conf change');
    // Meanwhile the leader commits more and snapshots past it (still joint) and sends that.
    const s1 = c.member('s1');
    s1.node.propose(text('more'));
    c.settle();
    const later = s1.node.status();
    assert.ok(later.applied > s2.node.status().commit);
    s1.storage.createSnapshot(later.applied, later.config, text('state'));
    s1.storage.compact(later.applied);
    s2.node.step(
      newMessage({ type: 'MsgSnap', from: 's1', to: 's2', term: later.term, snapshot: s1.storage.snapshot() }),
    );
    // Applying the outstanding Ready must still work: the snapshot must not have replaced the configuration.
    for (const e of outstanding.committedEntries) {
      if (e.type === EntryType.ConfChange) {
        assert.doesNotThrow(() => s2.node.applyConfChange(decodeConfChange(e.data)));
      }
    }
    s2.node.advance();
    assert.deepEqual([...s2.node.status().config.learnersNext, ...s2.node.status().config.learners], ['s4']);
    // Once applied, the leader's retry is installed.
    const snap = s1.storage.snapshot();
    s2.node.step(newMessage({ type: 'MsgSnap', from: 's1', to: 's2', term: later.term, snapshot: snap }));
    assert.equal(s2.node.ready().snapshot?.metadata.index, snap.metadata.index);
  });
});

describe('regressions found by the simulator (liveness)', () => {
  it('a member with a higher term whose vote requests cannot reach the leader still gets the leader to step down and catch it up', () => {
    const c = new MiniCluster(ids(3));
    elect(c, 's1');
    c.member('s1').node.propose(text('before'));
    c.settle();
    // s3's elections bump its term, but its vote requests are lost (in seed 3859 its configuration
    // was too old to name the current members).
    c.drop = (m) => m.from === 's3' && (m.type === 'MsgVote' || m.type === 'MsgPreVote');
    c.isolate('s3');
    c.tick(60);
    c.heal();
    const high = term(c, 's3');
    assert.ok(high > term(c, 's1'));
    c.tick(3);
    assert.ok(term(c, 's1') >= high, 'the stale leader learned the higher term from the heartbeat answer');
    c.drop = null;
    c.tick(60);
    const lead = c.leader();
    assert.ok(lead !== null, 'a leader is elected');
    c.member(lead).node.propose(text('after'));
    c.settle();
    c.tick(3);
    assert.deepEqual(appliedOn(c, 's3'), ['before', 'after']);
  });
});
