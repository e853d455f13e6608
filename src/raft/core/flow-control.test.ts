import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MiniCluster, text, untext } from '../testing/mini-cluster.js';
import { EntryType } from '../types.js';

/**
 * Found by the partition nemesis (test/nemesis, seed 3): a leader whose appends to a follower were
 * all lost had a full inflights window; the follower's next heartbeat response unpaused it, and the
 * leader tried to send entries into the full window: "raft invariant violated: cannot add to a full
 * inflights buffer", thrown out of step(). As in etcd, a throttled follower in replicate state gets
 * an empty MsgApp instead, whose answer (ack or reject) frees the window.
 */
describe('flow control', () => {
  it('a follower whose appends were all lost catches up after a heartbeat, with a full inflights window', () => {
    const c = new MiniCluster(['a', 'b', 'c'], { maxInflightMsgs: 2 });
    const lead = c.electLeader();
    const [lagging] = ['a', 'b', 'c'].filter((id) => id !== lead);
    c.cut.add(`${lead}->${lagging!}`);
    for (let i = 1; i <= 5; i++) {
      c.member(lead).node.propose(text(`p${i}`));
      c.settle();
    }
    c.heal();
    // MiniCluster.settle() swallows errors from step(); deliver by hand so that a throw fails the test.
    const strictSettle = () => {
      for (let round = 0; round < 1000; round++) {
        let progressed = false;
        for (const m of c.members.values()) {
          while (m.node.hasReady()) {
            progressed = true;
            const rd = m.node.ready();
            m.storage.save(rd.hardState, rd.entries, rd.snapshot);
            c.inbox.push(...rd.messages);
            for (const e of rd.committedEntries)
              if (e.data.byteLength > 0 && e.type === EntryType.Normal) m.applied.push(e);
            m.node.advance();
          }
        }
        for (const msg of c.inbox.splice(0)) {
          progressed = true;
          c.member(msg.to).node.step(msg); // the bug threw here: cannot add to a full inflights buffer
        }
        if (!progressed) return;
      }
    };
    for (let i = 0; i < 10; i++) {
      for (const m of c.members.values()) m.node.tick();
      strictSettle();
    }
    assert.deepEqual(
      c.member(lagging!).applied.map((e) => untext(e.data)),
      ['p1', 'p2', 'p3', 'p4', 'p5'],
    );
  });
});
