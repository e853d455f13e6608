import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { REPLAY_WINDOW_SIZE, type ReplayVerdict, ReplayWindow } from './replay-window.js';

/** Brute force: the set of accepted counters, and the rule stated in replay-window.ts. */
class OracleWindow {
  private readonly seen = new Set<number>();
  private last = 0;

  accept(counter: number): ReplayVerdict {
    if (counter <= this.last && this.last - counter > REPLAY_WINDOW_SIZE) return 'too-old';
    if (this.seen.has(counter)) return 'replayed';
    this.seen.add(counter);
    this.last = Math.max(this.last, counter);
    return 'fresh';
  }
}

/** Counters near a moving front: mostly small steps, some reordering, some replays, some big jumps. */
const step = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -40, max: 40 }) },
  { weight: 2, arbitrary: fc.integer({ min: -2 * REPLAY_WINDOW_SIZE, max: 2 * REPLAY_WINDOW_SIZE }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(-REPLAY_WINDOW_SIZE - 1, -REPLAY_WINDOW_SIZE, REPLAY_WINDOW_SIZE, 2048, 4096),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1_000_000 }) },
);

describe('replay window', () => {
  it('agrees with a brute-force oracle on random sequences (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 600 }), fc.nat({ max: 2 ** 40 }), (steps, start) => {
        const window = new ReplayWindow();
        const oracle = new OracleWindow();
        let front = start;
        for (const s of steps) {
          const counter = Math.max(0, front + s);
          const expected = oracle.accept(counter);
          assert.equal(window.check(counter), expected, `check(${counter})`);
          assert.equal(window.accept(counter), expected, `accept(${counter})`);
          if (expected === 'fresh') front = Math.max(front, counter);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accepts every counter of a shuffled window once, refuses each second time', () => {
    const window = new ReplayWindow();
    const counters = Array.from({ length: REPLAY_WINDOW_SIZE + 1 }, (_, i) => 5000 + i);
    // A fixed permutation (reverse, then interleave) instead of randomness.
    const order = [...counters].reverse().sort((a, b) => (a % 7) - (b % 7));
    window.accept(5000 + REPLAY_WINDOW_SIZE);
    for (const c of order) assert.equal(window.accept(c), c === 5000 + REPLAY_WINDOW_SIZE ? 'replayed' : 'fresh');
    for (const c of counters) assert.equal(window.check(c), 'replayed');
    assert.equal(window.accept(4999), 'too-old');
  });

  it('a big jump forgets everything behind the window, counters near 2^53 included', () => {
    const window = new ReplayWindow();
    assert.equal(window.accept(0), 'fresh');
    assert.equal(window.accept(0), 'replayed');
    const high = Number.MAX_SAFE_INTEGER - 3;
    assert.equal(window.accept(high), 'fresh');
    assert.equal(window.accept(high - 1), 'fresh');
    assert.equal(window.accept(high - 1), 'replayed');
    assert.equal(window.accept(high - REPLAY_WINDOW_SIZE - 1), 'too-old');
    assert.equal(window.accept(high + 3), 'fresh');
    assert.equal(window.accept(1), 'too-old');
  });
});
