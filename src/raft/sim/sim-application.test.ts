import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prng } from '../../base/random.js';
import type { StateMachine } from '../driver.js';
import { FaultSchedule } from './fault-schedule.js';
import { profileFor } from './run-simulation.js';
import { SimCluster } from './sim-cluster.js';

/** A counter application: applying a payload adds its number, the result is the running total. */
function counter(): StateMachine<number> {
  let total = 0;
  return {
    apply: (payload) => {
      total += payload[0]!;
      return total;
    },
    snapshot: () => new Uint8Array(new Float64Array([total]).buffer),
    restore: (s) => {
      total = new Float64Array(s.data.slice().buffer)[0]!;
    },
  };
}

/** Runs a faulty cluster hosting the counter; proposals of 1..9 at random members, tracked. */
function run(seed: number) {
  const p = profileFor(seed, {});
  const cluster = new SimCluster({
    seed,
    nodes: p.nodes,
    settings: { ...p.settings, snapshotEvery: 5, keepAfterSnapshot: 1 },
    faults: p.network,
    slowDisk: p.slowDisk,
    encodeMessages: p.encodeMessages,
    reportUnreachable: p.reportUnreachable,
    application: () => counter(),
  });
  const rng = new Prng(seed);
  const faults = new FaultSchedule(cluster, rng.fork(), { ...p.faults, crash: 0.01, partition: 0.005 });
  const byIndex = new Map<number, number>();
  cluster.onProposalApplied = (by, index, applied) => {
    const known = byIndex.get(index);
    if (known === undefined) byIndex.set(index, applied.result as number);
    else assert.equal(applied.result, known, `${by} computed another result at index ${index}`);
  };
  const outcomes = { applied: 0, unknown: 0, refused: 0 };
  const answered: { index: number; result: number; add: number }[] = [];
  for (let i = 0; i < 1500; i++) {
    faults.step();
    const live = cluster.live();
    if (live.length > 0 && rng.chance(0.3)) {
      const add = rng.range(1, 9);
      const ticket = cluster.proposeTracked(rng.pick(live).id, Uint8Array.of(add), (o) => {
        if (o.kind === 'unknown') outcomes.unknown++;
        else {
          outcomes.applied++;
          answered.push({ index: o.index, result: o.result as number, add });
        }
      });
      if (ticket === null) outcomes.refused++;
    }
    cluster.step();
  }
  return { cluster, outcomes, answered, byIndex };
}

describe('simulator hosting an application', () => {
  it('returns each applied proposal its own result, the same on every member, through crashes and snapshots', () => {
    let installs = 0;
    let unknown = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const { cluster, outcomes, answered, byIndex } = run(seed);
      assert.ok(outcomes.applied > 50, `seed ${seed}: only ${outcomes.applied} proposals answered`);
      for (const a of answered) {
        // The total after an entry = the total before it (the previous proposal's result) + its number.
        const prev = [...byIndex.keys()].filter((i) => i < a.index).sort((x, y) => y - x)[0];
        assert.equal(a.result, (prev === undefined ? 0 : byIndex.get(prev)!) + a.add, `seed ${seed} @${a.index}`);
      }
      for (const m of cluster.members.values()) installs += m.stats.snapshotsRestored;
      unknown += outcomes.unknown;
    }
    assert.ok(installs > 0, 'no member restored the application from a snapshot');
    assert.ok(unknown > 0, 'no proposal ended with an unknown outcome');
  });

  it('replays: the same seed gives the same trace and the same answers', () => {
    const a = run(9);
    const b = run(9);
    assert.equal(a.cluster.trace.hash(), b.cluster.trace.hash());
    assert.deepEqual(a.answered, b.answered);
  });
});
