/**
 * Randomness, injected. Every layer that makes a random choice (jitter, P2C picks, election
 * timeouts, the simulator's faults) takes a `Random`; production passes `Math.random`, tests and
 * simulations pass `seededRandom(seed)` so a seed replays a run exactly.
 */
export type Random = () => number;

/** A seeded generator as a plain `Random` (uniform in [0, 1)). Not for anything security-related. */
export function seededRandom(seed: number): Random {
  const prng = new Prng(seed);
  return () => prng.next();
}

/**
 * A seeded pseudo-random generator: the ONLY source of randomness in the simulator (the raft
 * core's `random`, the network, the fault schedule and the workload all draw from it). Never
 * Math.random: a seed must replay a run exactly.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna), 32-bit state words, seeded through splitmix32 so
 * that nearby seeds (1, 2, 3, ...) give unrelated streams. Period 2^128 - 1.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    // Mix the high bits in too, so seeds above 2^32 differ from their low half.
    s = (s ^ Math.floor(seed / 0x100000000)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] (both included). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Prng.pick: empty list');
    return items[this.int(items.length)]!;
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** An independent generator derived from this one (consumes one draw). */
  fork(): Prng {
    return new Prng(this.nextU32() * 0x10000 + (this.nextU32() & 0xffff));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
