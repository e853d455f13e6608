/**
 * A sliding anti-replay window over 64-bit message counters (RFC 6479, as WireGuard keeps it):
 * a ring of 2048 bits in 32-bit blocks, and the highest counter accepted so far.
 *
 * Invariants (`last` = the highest accepted counter, 0 before any):
 * - a counter above `last` is fresh; accepting it moves the window forward, clearing the blocks
 *   it passes over (their bits belonged to counters now out of the window);
 * - a counter with `last - counter > REPLAY_WINDOW_SIZE` is too old, whether or not it was seen:
 *   the window cannot tell, so it refuses;
 * - any other counter is fresh until accepted once, and replayed after;
 * - the window keeps one block fewer than the ring holds (2016 = 63 × 32 counters), so the block
 *   of every counter inside the window is never one being reused for counters ahead.
 *
 * `check` only looks; `accept` marks. A receiver checks before it decrypts (a replay costs no
 * decryption) and accepts only after the tag verified (a forgery moves nothing).
 * Counters are JavaScript numbers: exact up to 2^53, which the sealer never passes.
 */
export type ReplayVerdict = 'fresh' | 'replayed' | 'too-old';

/** Bits in the ring. */
export const REPLAY_WINDOW_BITS = 2048;
const BLOCK_BITS = 32;
const BLOCKS = REPLAY_WINDOW_BITS / BLOCK_BITS;
/** How far below the highest accepted counter a counter may be and still be accepted once. */
export const REPLAY_WINDOW_SIZE = (BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly ring = new Uint32Array(BLOCKS);
  private last = 0;

  /** The highest counter accepted so far (0 before any). */
  get highest(): number {
    return this.last;
  }

  check(counter: number): ReplayVerdict {
    if (counter > this.last) return 'fresh';
    if (this.last - counter > REPLAY_WINDOW_SIZE) return 'too-old';
    const block = Math.floor(counter / BLOCK_BITS) % BLOCKS;
    return (this.ring[block]! & (1 << (counter % BLOCK_BITS))) !== 0 ? 'replayed' : 'fresh';
  }

  /** Marks `counter` as seen; returns the verdict it had (only 'fresh' marks anything). */
  accept(counter: number): ReplayVerdict {
    const verdict = this.check(counter);
    if (verdict !== 'fresh') return verdict;
    if (counter > this.last) {
      const from = Math.floor(this.last / BLOCK_BITS);
      const blocks = Math.min(Math.floor(counter / BLOCK_BITS) - from, BLOCKS);
      for (let i = 1; i <= blocks; i++) this.ring[(from + i) % BLOCKS] = 0;
      this.last = counter;
    }
    this.ring[Math.floor(counter / BLOCK_BITS) % BLOCKS]! |= 1 << (counter % BLOCK_BITS);
    return 'fresh';
  }
}
