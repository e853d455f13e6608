import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Emitter } from './event.js';

describe('Emitter', () => {
  it('delivers to listeners until disposed', () => {
    const e = new Emitter<number>();
    const got: number[] = [];
    const sub = e.event((v) => got.push(v));
    e.fire(1);
    sub.dispose();
    sub.dispose();
    e.fire(2);
    assert.deepEqual(got, [1]);
    assert.equal(e.size, 0);
  });
});
