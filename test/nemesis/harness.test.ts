/**
 * The nemesis harness can fail: the workload, recorder, linearizability check and watch check run
 * against an in-process store, correct and with planted bugs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/base/random.js';
import { MemoryTarget, type PlantedBugs } from './memory-target.js';
import type { WatchedEvent } from './target.js';
import { judge, type Verdict } from './verdict.js';
import { Workload } from './workload.js';

async function runAgainst(bugs: PlantedBugs, seed: number, ops = 3000): Promise<Verdict> {
  const random = seededRandom(seed);
  const target = new MemoryTarget(bugs, random);
  const events: WatchedEvent[] = [];
  const watch = target.watchAll(1, (batch) => events.push(...batch));
  const workload = new Workload({ targets: [target], clients: 5, keys: 4, random });
  workload.start();
  while (workload.stats().ops < ops) await new Promise((resolve) => setImmediate(resolve));
  await workload.stop();
  watch.cancel();
  return judge({ history: workload.history(), watchEvents: events, final: await target.readAll() });
}

describe('nemesis harness against an in-process store', () => {
  it('a correct store passes: linearizable, and the watch has every revision once, in order', async () => {
    const v = await runAgainst({}, 1);
    assert.equal(v.linearizable, 'ok', v.explanation);
    assert.deepEqual(v.watch.problems, []);
    assert.ok(v.operations >= 3000);
    assert.ok(v.watch.revisions > 500, `only ${v.watch.revisions} revisions were written`);
  });

  it('catches a stale read', async () => {
    const v = await runAgainst({ staleReadEvery: 50 }, 2);
    assert.equal(v.linearizable, 'illegal');
    assert.match(v.explanation ?? '', /NOT LINEARIZABLE/);
  });

  it('catches a watch gap', async () => {
    const v = await runAgainst({ skipWatchRevisionEvery: 97 }, 3);
    assert.equal(v.linearizable, 'ok', v.explanation);
    assert.equal(v.watch.ok, false);
    assert.ok(
      v.watch.problems.some((p) => p.startsWith('gap')),
      v.watch.problems.join('\n'),
    );
  });

  it('catches a duplicated watch event', async () => {
    const v = await runAgainst({ repeatWatchRevisionEvery: 101 }, 4);
    assert.equal(v.watch.ok, false);
    assert.ok(
      v.watch.problems.some((p) => p.includes('duplicate')),
      v.watch.problems.join('\n'),
    );
  });
});
