import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventSequences } from './event-sequences.js';

describe('EventSequences', () => {
  it('numbers events per receiver from 1', () => {
    const s = new EventSequences();
    assert.deepEqual([s.next('a'), s.next('a'), s.next('b'), s.next('a')], [1, 2, 1, 3]);
    s.resetSent('a');
    assert.equal(s.next('a'), 1);
  });

  it('reports gaps, ignores late duplicates, and resets on a new sender incarnation', () => {
    const s = new EventSequences();
    assert.equal(s.receive('x', 'i1', 1), 0);
    assert.equal(s.receive('x', 'i1', 2), 0);
    assert.equal(s.receive('x', 'i1', 5), 2);
    assert.equal(s.receive('x', 'i1', 4), 0);
    assert.equal(s.receive('x', 'i1', 6), 0);
    assert.equal(s.receive('x', 'i2', 1), 0);
    assert.equal(s.receive('y', 'j', 3), 2, 'a first event that is not 1 means earlier ones were missed');
  });
});
