import type { CancelTimer, Timer } from '../clock.js';

interface PendingTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A manual clock for tests: time moves only when `advance` / `advanceAsync` is called; timers
 * fire in order of due time (ties in order of creation).
 *
 * Invariant: a timer never fires before `now() >= at`, and `now()` equals the timer's due time
 * while its callback runs.
 */
export class FakeClock implements Timer {
  #now: number;
  #seq = 0;
  #timers: PendingTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): CancelTimer {
    const timer: PendingTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      const i = this.#timers.indexOf(timer);
      if (i >= 0) this.#timers.splice(i, 1);
    };
  }

  /** Number of timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing due timers synchronously (no promise callbacks run in between). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let next = this.#nextDue(target); next; next = this.#nextDue(target)) {
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }

  /**
   * Moves time forward by `ms`, letting promise callbacks settle before and after each timer:
   * the right tool for async policies (a retry's backoff, a hedge delay). Bounded: at most
   * `maxTimers` timers fire.
   */
  async advanceAsync(ms: number, maxTimers = 10_000): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let fired = 0; fired < maxTimers; fired++) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#now = next.at;
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  #nextDue(limit: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#timers) {
      if (t.at <= limit && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    if (best) this.#timers.splice(this.#timers.indexOf(best), 1);
    return best;
  }
}

/** Lets queued promise callbacks run (one macrotask turn; not a sleep: no time passes on any clock). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
