/**
 * The queue benchmark runs whole at a size smaller than `--quick` inside `npm test`, so it cannot rot between
 * quiet-machine runs: Parley's tables (main cells and partition scaling) carry a number in every cell, and each
 * peer either does too or is skipped with the reason it is not reachable here (CI runs without the brokers).
 * Nothing here judges speed.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, parseQueueOptions, QUICK_QUEUE_OPTIONS, runQueueBench } from './queue.js';

describe('queue benchmark arguments', () => {
  it('--quick picks the CI-sized run; explicit flags override it wherever they stand', () => {
    assert.deepEqual(parseQueueOptions([]), DEFAULT_QUEUE_OPTIONS);
    assert.deepEqual(parseQueueOptions(['--quick']), QUICK_QUEUE_OPTIONS);
    assert.deepEqual(parseQueueOptions(['--counts', '3', '--quick', '--scaling', 'none']), {
      ...QUICK_QUEUE_OPTIONS,
      counts: [3],
      scaling: [],
    });
    assert.throws(() => parseQueueOptions(['--systems', 'kafka']), /unknown system\(s\) kafka/);
    assert.throws(() => parseQueueOptions(['--counts', '0']), /positive integers/);
    assert.throws(() => parseQueueOptions(['--rounds', '2']), /unknown option '--rounds'/);
  });
});

describe('queue benchmark, CI-size run', () => {
  let out = '';
  const progress: string[] = [];
  before(async () => {
    const printed: string[] = [];
    await runQueueBench(
      { ...DEFAULT_QUEUE_OPTIONS, payloads: [100], counts: [2], scaling: [1, 2], warmupMs: 100, durationMs: 300 },
      { print: (text) => printed.push(text), progress: (line) => progress.push(line) },
    );
    out = printed.join('\n');
  });

  it('parley: every publish, e2e and scaling cell has numbers and no errors', () => {
    assert.match(out, /^n=2 parley +[\d,]+ +[\d,.]+ +[\d,.]+ +0 /m, out);
    assert.match(out, /^n=2 parley +[1-9][\d,]* +[\d,]+ +[\d,.]+ +[\d,.]+ +0 /m, out);
    assert.match(out, /^1 partition +[1-9][\d,]* +[\d,.]+ +[\d,.]+ +[1-9][\d,]* /m, out);
    assert.match(out, /^2 partitions +[1-9][\d,]* +[\d,.]+ +[\d,.]+ +[1-9][\d,]* /m, out);
    assert.match(out, /parley ≥ 2× JetStream R3/);
    assert.doesNotMatch(out, /NaN|undefined|Infinity/);
  });

  for (const peer of ['jetstream-r1', 'jetstream-r3', 'rabbitmq']) {
    it(`${peer}: measured, or skipped with the reason it is unreachable`, (t) => {
      const skipped = progress.find((line) => line.startsWith(`${peer}: skipped — unavailable`));
      if (skipped !== undefined) {
        t.skip(skipped);
        return;
      }
      assert.match(out, new RegExp(`^n=2 ${peer} +[1-9][\\d,]* `, 'm'), out);
      assert.match(out, new RegExp(`^n=2 ${peer} +[1-9][\\d,]* +[1-9][\\d,]* `, 'm'), out);
    });
  }
});
