import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from './latency-histogram.js';

test('percentiles of a uniform 1..10000 µs distribution are within the bucket precision', () => {
  const h = new LatencyHistogram();
  for (let us = 1; us <= 10_000; us++) h.recordMicros(us);
  assert.equal(h.count, 10_000);
  for (const [q, expected] of [
    [0.5, 5000],
    [0.99, 9900],
    [0.01, 100],
  ] as const) {
    const got = h.percentileMicros(q);
    assert.ok(Math.abs(got - expected) / expected < 0.02, `p${q * 100} = ${got}, expected ≈ ${expected}`);
  }
  assert.equal(h.maxMicros, 10_000);
  assert.ok(Math.abs(h.meanMicros - 5000.5) < 1e-6);
});

test('small values are exact to 0.1 µs and an empty histogram has no percentiles', () => {
  const h = new LatencyHistogram();
  assert.ok(Number.isNaN(h.percentileMicros(0.5)));
  h.recordMicros(3.2);
  h.recordMicros(3.2);
  h.recordMicros(5.0);
  assert.ok(Math.abs(h.percentileMicros(0.5) - 3.2) < 0.051);
  assert.ok(Math.abs(h.percentileMicros(1) - 5.0) < 0.051);
});
