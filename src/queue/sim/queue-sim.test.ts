import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionReplica } from './partition-replica.js';
import { PLANTED_BUGS, type PlantedBug } from './planted-bugs.js';
import { checkQueueHistory, describeViolation, type QueueRule } from './queue-checker.js';
import { queueReplayCommand } from './queue-replay-command.js';
import { runQueueSimulation } from './run-queue-simulation.js';

const CI_SEEDS = 6;
const CI_STEPS = 800;

describe('queue simulation', () => {
  it('replays a seed exactly: same seed, same trace hash and history', () => {
    const a = runQueueSimulation({ seed: 7, steps: 400, replica: partitionReplica, traceKeep: 0 });
    const b = runQueueSimulation({ seed: 7, steps: 400, replica: partitionReplica, traceKeep: 0 });
    assert.equal(a.traceHash, b.traceHash);
    assert.deepEqual(a.history.records, b.history.records);
    assert.deepEqual(a.stats, b.stats);
  });

  it(`holds every queue property over ${CI_SEEDS} seeds of ${CI_STEPS} steps of faults, exercising what they are about`, () => {
    const totals: Record<string, number> = {};
    for (let seed = 1; seed <= CI_SEEDS; seed++) {
      const r = runQueueSimulation({ seed, steps: CI_STEPS, replica: partitionReplica, traceKeep: 0 });
      const report = r.violations.slice(0, 5).map(describeViolation).join('\n');
      assert.ok(r.ok, `seed ${seed}:\n${report}\nreplay: ${queueReplayCommand(seed, CI_STEPS)}`);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    }
    // Passing proves little unless the runs crashed members, restored snapshots, left publishes
    // in doubt, retried them, redelivered and dead-lettered.
    for (const k of [
      'crashes',
      'snapshotsInstalled',
      'publishUnknown',
      'publishDuplicates',
      'redeliveries',
      'acksRefused',
      'deadLetters',
    ]) {
      assert.ok((totals[k] ?? 0) > 0, `no ${k} over ${CI_SEEDS} seeds: ${JSON.stringify(totals)}`);
    }
  });

  const expected: Record<PlantedBug, readonly QueueRule[]> = {
    'forget-dedup': ['stored once', 'dedup answer'],
    'lose-on-restore': ['acknowledged publish lost', 'never delivered', 'delivered after final ack'],
    'unblock-keys': ['per-key order'],
    'accept-stale-token': ['stale token accepted'],
  };
  for (const bug of PLANTED_BUGS) {
    it(`has teeth: the checker reports the planted bug ${bug} within ${CI_SEEDS} seeds, with the seed to replay`, () => {
      let found: string | null = null;
      for (let seed = 1; seed <= CI_SEEDS && found === null; seed++) {
        const r = runQueueSimulation({ seed, steps: CI_STEPS, replica: partitionReplica, bug, traceKeep: 0 });
        // The checker alone (not the replicas' answers compared as they go) must see it.
        const hit = checkQueueHistory(r.history).find((v) => expected[bug].includes(v.rule as QueueRule));
        if (hit !== undefined)
          found = `${describeViolation(hit)}\nreplay: ${queueReplayCommand(seed, CI_STEPS, undefined, bug)}`;
      }
      assert.ok(found !== null, `the checker did not notice ${bug}`);
      assert.match(found, new RegExp(`--seed \\d+ --steps ${CI_STEPS} --bug ${bug}`));
    });
  }
});
