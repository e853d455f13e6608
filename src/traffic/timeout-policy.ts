import { abortError, linkedController } from '../base/abort.js';
import { systemTimer, type Timer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import { type ExecuteContext, invoke, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export interface TimeoutOptions {
  /** Time allowed per execution, ms. The effective deadline is the earlier of now + ms and the incoming deadline. */
  ms: number;
  timer?: Timer;
}

/**
 * Bounds an execution: at the deadline the inner signal aborts with a DEADLINE_EXCEEDED ParleyError
 * and the returned promise rejects with it at once, without waiting for `fn` to notice. The inner
 * context carries the new deadline so policies and handlers below can see the time left.
 * Cancellation from outside aborts the inner signal too and rejects with its reason.
 */
export class TimeoutPolicy implements Policy {
  readonly #ms: number;
  readonly #timer: Timer;

  constructor(options: TimeoutOptions) {
    this.#ms = options.ms;
    this.#timer = options.timer ?? systemTimer;
  }

  execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    const now = this.#timer.now();
    const deadline = Math.min(now + this.#ms, ctx.deadline ?? Number.POSITIVE_INFINITY);
    const { controller, dispose } = linkedController(ctx.signal);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(abortError(controller.signal));
      if (controller.signal.aborted) {
        dispose();
        onAbort();
        return;
      }
      controller.signal.addEventListener('abort', onAbort, { once: true });
      const cancel = this.#timer.setTimeout(() => {
        controller.abort(
          new ParleyError('DEADLINE_EXCEEDED', `deadline exceeded after ${Math.round(deadline - now)} ms`),
        );
      }, deadline - now);
      const done = () => {
        cancel();
        dispose();
        controller.signal.removeEventListener('abort', onAbort);
      };
      invoke(fn, { ...ctx, signal: controller.signal, deadline }).then(
        (value) => {
          done();
          resolve(value);
        },
        (err) => {
          done();
          reject(err);
        },
      );
    });
  }
}
