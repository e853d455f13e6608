import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import { isBrokenCircuit } from './circuit-breaker.js';
import type { PolicyContext } from './policy.js';
import { type ExecuteContext, toPolicyContext } from './policy.js';

export interface FallbackOptions<F> {
  /** The value to return instead of the error, or a function of the error. */
  fallback: F | ((err: ParleyError) => F | Promise<F>);
  /** Codes that trigger the fallback (default: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). An open breaker is UNAVAILABLE. */
  codes?: readonly ErrorCode[];
  /** Also (or only) fall back when a circuit breaker rejects (default true). */
  onBrokenCircuit?: boolean;
}

/**
 * Returns a fallback value when the call fails with one of the chosen codes (or a breaker rejects).
 * Other errors pass through. Typed per fallback value: `execute` returns `T | F`.
 */
export class FallbackPolicy<F> {
  readonly #options: FallbackOptions<F>;
  readonly #codes: ReadonlySet<ErrorCode>;

  constructor(options: FallbackOptions<F>) {
    this.#options = options;
    this.#codes = new Set(options.codes ?? ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED']);
  }

  async execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T | F> {
    try {
      return await fn(toPolicyContext(context));
    } catch (err) {
      const e = ParleyError.from(err);
      const applies = this.#codes.has(e.code) || ((this.#options.onBrokenCircuit ?? true) && isBrokenCircuit(err));
      if (!applies) throw err;
      const f = this.#options.fallback;
      return typeof f === 'function' ? await (f as (err: ParleyError) => F | Promise<F>)(e) : f;
    }
  }
}
