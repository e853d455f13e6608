import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check } from './checker.js';
import { generateKvHistory } from './gen-history.js';
import { kvModel } from './kv-model.js';

describe('performance', () => {
  it('5 clients × 1,000 ops over 10 keys (5,000 ops, partitioned) checks ok', () => {
    const h = generateKvHistory({ seed: 42, clients: 5, ops: 5_000, keys: 10, window: 40, unknownRate: 0.01 });
    const started = performance.now();
    const r = check(kvModel(), h, { timeoutMs: 20_000 });
    const ms = performance.now() - started;
    console.log(`5,000 ops / ${r.partitions} partitions: ${r.result} in ${ms.toFixed(0)} ms`);
    assert.equal(r.result, 'ok');
  });
});
