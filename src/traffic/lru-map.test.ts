import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../base/testing/fake-clock.js';
import { LruMap } from './lru-map.js';

describe('LruMap', () => {
  it('drops the least recently used entry beyond maxSize', () => {
    const m = new LruMap<string, number>({ maxSize: 2 });
    m.set('a', 1);
    m.set('b', 2);
    m.get('a');
    m.set('c', 3);
    assert.equal(m.size, 2);
    assert.equal(m.get('b'), undefined);
    assert.equal(m.get('a'), 1);
    assert.equal(m.get('c'), 3);
  });

  it('expires entries idle for idleTtlMs', () => {
    const clock = new FakeClock();
    const m = new LruMap<string, number>({ idleTtlMs: 100, clock });
    m.set('a', 1);
    m.set('b', 2);
    clock.advance(60);
    m.get('a');
    clock.advance(60);
    assert.equal(m.get('b'), undefined);
    assert.equal(m.get('a'), 1);
    m.set('c', 3);
    clock.advance(100);
    m.set('d', 4);
    assert.deepEqual([...m.entries()], [['d', 4]]);
    assert.equal(m.size, 1);
  });

  it('requires a clock for a TTL', () => {
    assert.throws(() => new LruMap({ idleTtlMs: 5 }), TypeError);
  });
});
