import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionOfKey } from './partition-key.js';

describe('partitionOfKey', () => {
  it('is pinned: these keys map to these partitions in every version (changing it re-routes stored keys)', () => {
    const keys = ['', 'a', 'order-1', 'order-2', 'customer/42', 'é', '😀'];
    assert.deepEqual(
      keys.map((k) => partitionOfKey(k, 7)),
      [0, 6, 6, 2, 1, 4, 6],
    );
    assert.deepEqual(
      keys.map((k) => partitionOfKey(k, 64)),
      [0, 1, 32, 54, 10, 19, 49],
    );
  });

  it('stays in range, maps a single partition to 0, and spreads keys evenly', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) {
      const p = partitionOfKey(`key-${i}`, 8);
      assert.ok(p >= 0 && p < 8);
      counts[p]++;
    }
    for (const c of counts) assert.ok(c > 850 && c < 1150, `uneven spread ${counts}`);
    assert.equal(partitionOfKey('anything', 1), 0);
  });

  it('refuses a partition count that is not a positive integer', () => {
    assert.throws(() => partitionOfKey('a', 0), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => partitionOfKey('a', 1.5), { code: 'INVALID_ARGUMENT' });
  });
});
