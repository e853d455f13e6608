import { ParleyError } from '../wire/parley-error.js';
import { type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export interface BulkheadOptions {
  /** Named in errors, e.g. 'report.render'. */
  readonly name: string;
  /** Calls running at once. */
  readonly maxConcurrent: number;
  /** Calls waiting for a slot; past it a call fails at once (default 0: no queue). */
  readonly maxQueue?: number;
}

interface Waiter {
  readonly admit: () => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * Limits how many calls run at once, with a bounded FIFO queue behind. A call that finds both full
 * fails at once with RESOURCE_EXHAUSTED; a queued call whose signal aborts leaves the queue and
 * fails with CANCELLED.
 *
 * Invariants: running <= maxConcurrent; queue.length <= maxQueue; a slot freed while calls wait
 * goes to the oldest waiter, never to a newcomer.
 */
export class BulkheadPolicy implements Policy {
  private running = 0;
  private readonly queue: Waiter[] = [];
  private readonly maxQueue: number;

  constructor(private readonly options: BulkheadOptions) {
    if (!(options.maxConcurrent >= 1)) throw new TypeError('BulkheadPolicy needs maxConcurrent >= 1');
    this.maxQueue = Math.max(0, options.maxQueue ?? 0);
  }

  get executing(): number {
    return this.running;
  }

  get queued(): number {
    return this.queue.length;
  }

  async execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    if (ctx.signal.aborted) throw new ParleyError('CANCELLED', `call to '${this.options.name}' was cancelled`);
    if (this.running < this.options.maxConcurrent && this.queue.length === 0) this.running++;
    else if (this.queue.length < this.maxQueue) await this.wait(ctx.signal);
    else {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `bulkhead '${this.options.name}' is full (${this.running} running, ${this.queue.length} queued); retry later`,
        { details: { bulkhead: this.options.name } },
      );
    }
    try {
      return await fn(ctx);
    } finally {
      this.release();
    }
  }

  /** Resolves when a slot is handed to this call (the slot is then already counted as running). */
  private wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          signal.removeEventListener('abort', waiter.onAbort);
          resolve();
        },
        signal,
        onAbort: () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new ParleyError('CANCELLED', `call to '${this.options.name}' was cancelled while queued`));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private release(): void {
    const next = this.queue.shift();
    if (next)
      next.admit(); // the slot passes straight to the oldest waiter
    else this.running--;
  }
}
