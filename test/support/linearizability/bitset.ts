/**
 * A fixed-size set of operation indexes with an incremental 2×32-bit Zobrist hash, so the memo
 * cache can bucket (bitset, state) pairs without hashing the whole bitset on every step.
 * Invariant: `h1`/`h2` are the XOR of the per-index random words of every member.
 */
export class Bitset {
  readonly words: Uint32Array;
  h1 = 0;
  h2 = 0;
  private readonly z1: Uint32Array;
  private readonly z2: Uint32Array;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32) || 1);
    this.z1 = new Uint32Array(size);
    this.z2 = new Uint32Array(size);
    // A fixed-seed xorshift keeps runs reproducible.
    let s = 0x9e3779b9;
    const next = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    for (let i = 0; i < size; i++) {
      this.z1[i] = next();
      this.z2[i] = next();
    }
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  /** Flips membership of `i` (set when absent, clear when present). */
  flip(i: number): void {
    this.words[i >>> 5]! ^= 1 << (i & 31);
    this.h1 ^= this.z1[i]!;
    this.h2 ^= this.z2[i]!;
  }

  hashKey(): string {
    return `${this.h1}:${this.h2}`;
  }

  equalsWords(other: Uint32Array): boolean {
    const w = this.words;
    for (let i = 0; i < w.length; i++) if (w[i] !== other[i]) return false;
    return true;
  }
}
