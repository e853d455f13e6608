import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replayCommand } from './replay-command.js';
import { runSimulation } from './run-simulation.js';

const CI_SEEDS = 500;
const CI_STEPS = 2000;

describe('raft simulator', () => {
  it('replays a seed exactly: same seed, same trace hash and statistics', () => {
    const a = runSimulation({ seed: 42, steps: CI_STEPS, traceKeep: 0 });
    const b = runSimulation({ seed: 42, steps: CI_STEPS, traceKeep: 0 });
    const c = runSimulation({ seed: 43, steps: CI_STEPS, traceKeep: 0 });
    assert.equal(a.traceHash, b.traceHash);
    assert.deepEqual(a.stats, b.stats);
    assert.equal(a.steps, b.steps);
    assert.notEqual(a.traceHash, c.traceHash, 'different seeds should give different runs');
  });

  it(`holds every invariant over ${CI_SEEDS} seeds of ${CI_STEPS} steps, with every kind of fault exercised`, () => {
    const totals: Record<string, number> = {};
    for (let seed = 1; seed <= CI_SEEDS; seed++) {
      const r = runSimulation({ seed, steps: CI_STEPS, traceKeep: 0 });
      assert.ok(r.ok, `seed ${seed}: ${r.violation?.message}\nreplay: ${replayCommand(seed, CI_STEPS)}`);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    }
    // The runs must actually exercise what the invariants are about, or passing proves little.
    for (const k of [
      'crashes',
      'lostWrites',
      'snapshotsInstalled',
      'confChangesApplied',
      'transfers',
      'readsChecked',
      'leaders',
    ]) {
      assert.ok((totals[k] ?? 0) > CI_SEEDS / 10, `too few ${k} over ${CI_SEEDS} seeds: ${totals[k]}`);
    }
  });

  for (const [hook, expected] of [
    ['skipVoteLogCheck', /committed entry changed|state machine safety|durable on a majority|election safety/],
    ['commitEntriesFromPreviousTerms', /current-term commit rule|committed entry changed|state machine safety/],
  ] as const) {
    it(`has teeth: with the core's unsafe hook ${hook} it finds a violation within 30 seeds`, () => {
      let found: string | null = null;
      for (let seed = 1; seed <= 30 && found === null; seed++) {
        const r = runSimulation({ seed, steps: CI_STEPS, traceKeep: 0, unsafeTestingHooks: { [hook]: true } });
        if (!r.ok) found = `seed ${seed}: ${r.violation!.message}`;
      }
      assert.ok(found !== null, `the simulator did not notice ${hook}`);
      assert.match(found, expected);
    });
  }
});
