/**
 * Time for traffic policies. Every state machine in `traffic/` reads time only through a
 * `Clock` and sets timers only through a `Scheduler`, so tests drive them with a fake clock
 * (see `fake-clock.ts`) instead of sleeping.
 *
 * Invariant: `now()` never goes backwards (monotonic milliseconds; the origin is arbitrary).
 */
export interface Clock {
  now(): number;
}

/** Cancels a timer; calling it after the timer fired or twice is harmless. */
export type CancelTimer = () => void;

/** Sets one-shot timers. */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): CancelTimer;
}

/** A clock that can also set timers: what the timer-using policies (timeout, retry, hedging) take. */
export interface Timer extends Clock, Scheduler {}

/** Largest delay Node's setTimeout accepts; longer delays are clamped. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock: `performance.now()` (monotonic) and Node's timers (unref'd, so they never keep a process alive). */
export const systemTimer: Timer = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};

/**
 * Wall-clock time (epoch ms, `Date.now()`) with timers that keep the process alive: the node's
 * default, because deadlines are shown to handlers as epoch times (`ctx.deadline`) that other
 * processes on the machine can compare with theirs. Unlike `systemTimer`, `now()` may jump when
 * the system clock is set; measure durations with `systemTimer`.
 */
export const wallTimer: Timer = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    return () => clearTimeout(handle);
  },
};

/**
 * The monotonic clock of `systemTimer`, with timers that keep the process alive (`systemTimer`'s
 * are unref'd): for timers that are work in progress, such as a call waiting for its retry or hedge.
 */
export const liveTimer: Timer = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    return () => clearTimeout(handle);
  },
};
