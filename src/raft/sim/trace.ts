/**
 * The record of one simulated run: a running hash of every event (two runs with the same seed
 * must end with the same hash: that is the determinism test) and a ring buffer of the last
 * events, formatted only when a run fails or --verbose asks for it.
 */
export class Trace {
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;
  private readonly ring: string[] = [];
  private ringNext = 0;
  events = 0;

  /** @param keep how many recent events to keep for the failure report. @param echo print every event as it happens. */
  constructor(
    private readonly keep: number,
    private readonly echo: ((line: string) => void) | null = null,
  ) {}

  /**
   * Records an event. `describe` is only called when the text is needed (ring buffer, echo);
   * `nums` feeds the hash, so it must identify the event (kind code, ids as indexes, terms...).
   */
  event(step: number, nums: readonly number[], describe: () => string): void {
    this.events++;
    this.mix(step);
    for (const n of nums) this.mix(n);
    if (this.keep > 0 || this.echo !== null) {
      const line = `[${step}] ${describe()}`;
      if (this.keep > 0) {
        if (this.ring.length < this.keep) this.ring.push(line);
        else this.ring[this.ringNext] = line;
        this.ringNext = (this.ringNext + 1) % this.keep;
      }
      this.echo?.(line);
    }
  }

  /** Two independent 32-bit FNV-style lanes, hex-encoded: cheap, and collisions are not a concern here. */
  hash(): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0');
  }

  /** The kept events, oldest first. */
  recent(): string[] {
    if (this.ring.length < this.keep) return [...this.ring];
    return [...this.ring.slice(this.ringNext), ...this.ring.slice(0, this.ringNext)];
  }

  private mix(n: number): void {
    const lo = n | 0;
    const hi = Math.floor(n / 0x100000000) | 0;
    this.h1 = Math.imul(this.h1 ^ lo, 0x01000193);
    this.h1 = Math.imul(this.h1 ^ hi, 0x01000193);
    this.h2 = Math.imul(this.h2 ^ (lo + 0x7f4a7c15), 0x85ebca6b);
    this.h2 = (this.h2 ^ (this.h2 >>> 15)) | 0;
  }
}

/** FNV-1a over bytes, 32 bits: hashes payloads for the applied-sequence chain. */
export function hashBytes(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Mixes a number into an FNV-style 32-bit hash. */
export function hashNumber(h: number, n: number): number {
  h = Math.imul(h ^ (n | 0), 0x01000193);
  h = Math.imul(h ^ (Math.floor(n / 0x100000000) | 0), 0x01000193);
  return h >>> 0;
}
