import { ParleyError } from '../wire/parley-error.js';
import { type Scheduler, systemTimer } from './clock.js';

/**
 * The error a policy rejects with when its signal aborts: the signal's reason when that is a
 * ParleyError (a timeout aborts with DEADLINE_EXCEEDED), otherwise CANCELLED.
 */
export function abortError(signal: AbortSignal): ParleyError {
  const reason: unknown = signal.reason;
  if (reason instanceof ParleyError) return reason;
  return new ParleyError('CANCELLED', 'the call was cancelled', { cause: reason });
}

/** A controller that aborts (with the same reason) when `parent` aborts. Call `dispose` when done to drop the listener. */
export function linkedController(parent: AbortSignal | undefined): {
  controller: AbortController;
  dispose: () => void;
} {
  const controller = new AbortController();
  if (!parent) return { controller, dispose: () => {} };
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { controller, dispose: () => {} };
  }
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return { controller, dispose: () => parent.removeEventListener('abort', onAbort) };
}

/** Waits `ms` on the scheduler; rejects with `abortError(signal)` as soon as `signal` aborts (and cancels the timer). */
export function delay(scheduler: Scheduler, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      cancel();
      reject(abortError(signal!));
    };
    const cancel = scheduler.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits `ms` of real time (or of `scheduler`'s time); rejects with `abortError(signal)` when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal, scheduler: Scheduler = systemTimer): Promise<void> {
  return delay(scheduler, ms, signal);
}
