import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prng } from '../../base/random.js';
import type { Entry } from '../types.js';
import { SimDisk } from './sim-disk.js';

const CONF = { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
const entry = (index: number, term: number): Entry => ({ index, term, type: 0, data: new Uint8Array([index]) });
const terms = (d: SimDisk): number[] => {
  const s = d.storage;
  const out: number[] = [];
  for (let i = s.firstIndex(); i <= s.lastIndex(); i++) out.push(s.term(i));
  return out;
};

describe('SimDisk', () => {
  it('a crash loses every write after the last sync except a random prefix, never a middle write', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const d = new SimDisk();
      d.write({ term: 1, vote: 'a', commit: 0 }, [entry(1, 1), entry(2, 1)], null);
      d.sync();
      d.write(null, [entry(3, 1)], null);
      d.write(null, [entry(4, 2)], null);
      d.write({ term: 2, vote: 'a', commit: 4 }, [], null);
      d.crash(new Prng(seed));
      const s = d.restart();
      const last = s.lastIndex();
      assert.ok(last >= 2 && last <= 4, `seed ${seed}: last ${last}`);
      assert.deepEqual(terms(d), [1, 1, 1, 2].slice(0, last));
      const hs = s.initialState().hardState;
      assert.ok(hs.commit <= last, 'the hard state never runs ahead of the entries it follows');
    }
  });

  it('a conflicting write replaces the suffix on disk as in storage; snapshots and compaction survive a crash', () => {
    const d = new SimDisk();
    d.write({ term: 1, vote: null, commit: 0 }, [entry(1, 1), entry(2, 1), entry(3, 1)], null);
    d.write({ term: 2, vote: null, commit: 2 }, [entry(3, 2), entry(4, 2)], null);
    d.sync();
    assert.equal(d.durablyHolds(3, 2), true);
    assert.equal(d.durablyHolds(3, 1), false);
    d.snapshotAndCompact(3, CONF, new Uint8Array([9]), 2);
    d.write(null, [entry(5, 2)], null); // never synced
    d.crash(new Prng(0));
    d.restart();
    assert.equal(d.durableSnapshot?.metadata.index, 3);
    assert.equal(d.durablyHolds(1, 1), true, 'covered by the snapshot');
    const last = d.storage.lastIndex();
    assert.ok(last === 4 || last === 5, 'entry 4 was synced; entry 5 may or may not survive');
    assert.deepEqual(terms(d), [2, 2].slice(0, last - 3));
  });
});

describe('Prng', () => {
  it('is a pure function of its seed, and nearby seeds diverge', () => {
    const draw = (seed: number) =>
      Array.from(
        { length: 5 },
        (
          (r) => () =>
            r.nextU32()
        )(new Prng(seed)),
      );
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
    const r = new Prng(1);
    for (let i = 0; i < 1000; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
    }
  });
});
