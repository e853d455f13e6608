/**
 * Event flood: the sender pushes one-way events as fast as the system's backpressure allows, for a fixed time.
 *
 * A peer's `emit` returns either `undefined` (accepted synchronously, nothing to wait for) or a promise that
 * settles when the system is ready for more (a write callback, a drain, a flush round-trip). At most `window`
 * such promises are outstanding; the sender also yields to the event loop (setImmediate) every `yieldEvery`
 * sends, so timers, socket writes and reads scheduled as macrotasks still run. A rejected emit (e.g. a full
 * outbound queue) counts as an error, not as sent, and makes the sender yield before sending more.
 * Throughput is measured at the receiver, not here.
 */
export type EmitFn = () => Promise<void> | undefined;

export interface EventFloodOptions {
  durationMs: number;
  /** Maximum number of unsettled emit promises (default 1000). */
  window?: number;
  /** Sends between yields to the event loop (default 256). */
  yieldEvery?: number;
}

export interface FloodSample {
  sent: number;
  errors: number;
  seconds: number;
  firstError?: string;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runEventFlood(emit: EmitFn, options: EventFloodOptions): Promise<FloodSample> {
  const window = options.window ?? 1000;
  const yieldEvery = options.yieldEvery ?? 256;
  const start = Date.now();
  const until = start + options.durationMs;
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  let outstanding = 0;
  let wakeSender: (() => void) | undefined;
  let backOff = false;

  const settle = (err?: unknown) => {
    outstanding--;
    if (err !== undefined) {
      errors++;
      sent--;
      backOff = true;
      firstError ??= (err as Error)?.message ?? String(err);
    }
    // Hysteresis: wake the sender only when half the window is free, so it sends in batches.
    if (wakeSender && outstanding <= window / 2) {
      const wake = wakeSender;
      wakeSender = undefined;
      wake();
    }
  };

  let sinceYield = 0;
  while (Date.now() < until) {
    for (let i = 0; i < 64; i++) {
      let pending: Promise<void> | undefined;
      try {
        pending = emit();
      } catch (err) {
        errors++;
        firstError ??= (err as Error)?.message ?? String(err);
        continue;
      }
      sent++;
      if (pending) {
        outstanding++;
        pending.then(
          () => settle(),
          (err) => settle(err ?? new Error('emit rejected')),
        );
      }
      sinceYield++;
      if (outstanding >= window) {
        await new Promise<void>((resolve) => {
          wakeSender = resolve;
        });
        sinceYield = 0;
      }
    }
    if (sinceYield >= yieldEvery || backOff) {
      backOff = false;
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  // Let the tail settle (bounded) so the next cell starts from a quiet system.
  const drainUntil = Date.now() + 5000;
  while (outstanding > 0 && Date.now() < drainUntil) await yieldToLoop();

  const sample: FloodSample = { sent, errors, seconds: (Date.now() - start) / 1000 };
  if (firstError !== undefined) sample.firstError = firstError;
  return sample;
}
