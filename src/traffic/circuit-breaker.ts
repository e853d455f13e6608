import { type Clock, systemTimer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import type { BreakerStrategy } from './breaker-strategy.js';
import { ConsecutiveFailures } from './consecutive-breaker.js';
import { Emitter, type Event } from './event.js';
import { type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface StateChange {
  readonly breaker: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** When `to` is open: how long it stays open, ms. */
  readonly openMs?: number;
}

/** Codes that count as a failure of the callee by default. DEADLINE_EXCEEDED is one: a breaker must see timeouts. */
export const DEFAULT_FAILURE_CODES: readonly ErrorCode[] = [
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
  'UNKNOWN',
  'RESOURCE_EXHAUSTED',
  'DATA_LOSS',
];

export interface CircuitBreakerOptions {
  /** Named in the rejection message and events. */
  name: string;
  /** When to open (default: 5 consecutive failures). */
  strategy?: BreakerStrategy;
  /** A call at least this long is "slow" for slow-call-rate strategies, ms (default: never). */
  slowCallMs?: number;
  /** First open period, ms (default 5 000). */
  openMs?: number;
  /** Each reopen without closing in between multiplies the open period by this (default 2)… */
  openBackoffMultiplier?: number;
  /** …up to this, ms (default 60 000). */
  maxOpenMs?: number;
  /** Probe calls admitted per half-open period (default 3). */
  halfOpenProbes?: number;
  /** Probe successes that close the breaker (default = halfOpenProbes). Must be ≤ halfOpenProbes. */
  halfOpenSuccesses?: number;
  /**
   * Whether an error counts as a failure (default: a code in DEFAULT_FAILURE_CODES). Other errors
   * (INVALID_ARGUMENT, NOT_FOUND…) show the callee is answering and count as successes.
   * CANCELLED is always ignored: the caller gave up, the callee did nothing wrong.
   */
  isFailure?: (err: unknown) => boolean;
  clock?: Clock;
}

/** True when `err` is the rejection of an open (or saturated half-open) breaker. */
export function isBrokenCircuit(err: unknown): err is ParleyError {
  return (
    ParleyError.is(err, 'UNAVAILABLE') && (err.details as { reason?: unknown } | undefined)?.reason === 'circuit-open'
  );
}

/**
 * A circuit breaker: closed → (strategy says open) → open → (open period over, next call) →
 * half-open → (enough probe successes) → closed, or (too many probe failures) → open again with
 * a longer open period.
 *
 * - Half-open admits `halfOpenProbes` calls, not one, so a single unlucky probe does not decide.
 *   Calls beyond them are rejected like when open.
 * - No timers: open → half-open happens on the first call after the open period (or is reported
 *   by `state`), so an idle breaker never fires events.
 * - A result is credited only to the state period it started in (a slow call from before the
 *   breaker opened does not count as a probe).
 * Rejections are ParleyError UNAVAILABLE naming the breaker, with details `{reason: 'circuit-open'}`.
 */
export class CircuitBreaker implements Policy {
  readonly name: string;
  readonly #strategy: BreakerStrategy;
  readonly #slowCallMs: number;
  readonly #openMs: number;
  readonly #multiplier: number;
  readonly #maxOpenMs: number;
  readonly #probes: number;
  readonly #successesToClose: number;
  readonly #isFailure: (err: unknown) => boolean;
  readonly #clock: Clock;
  readonly #onStateChange = new Emitter<StateChange>();
  readonly onStateChange: Event<StateChange> = this.#onStateChange.event;

  #state: CircuitState = 'closed';
  /** Bumped on every transition; a call's result counts only if the period it started in is still current. */
  #period = 0;
  #openUntil = 0;
  #reopens = 0;
  #probesStarted = 0;
  #probeSuccesses = 0;
  #probeFailures = 0;

  constructor(options: CircuitBreakerOptions) {
    this.name = options.name;
    this.#strategy = options.strategy ?? new ConsecutiveFailures(5);
    this.#slowCallMs = options.slowCallMs ?? Number.POSITIVE_INFINITY;
    this.#openMs = options.openMs ?? 5_000;
    this.#multiplier = options.openBackoffMultiplier ?? 2;
    this.#maxOpenMs = options.maxOpenMs ?? 60_000;
    this.#probes = Math.max(1, Math.floor(options.halfOpenProbes ?? 3));
    this.#successesToClose = Math.min(this.#probes, Math.max(1, options.halfOpenSuccesses ?? this.#probes));
    const failureCodes = new Set(DEFAULT_FAILURE_CODES);
    this.#isFailure = options.isFailure ?? ((err) => failureCodes.has(ParleyError.from(err).code));
    this.#clock = options.clock ?? systemTimer;
    this.#strategy.reset(this.#clock.now());
  }

  /** The state as of now: an open breaker whose open period is over reports half-open (without firing an event). */
  get state(): CircuitState {
    if (this.#state === 'open' && this.#clock.now() >= this.#openUntil) return 'half-open';
    return this.#state;
  }

  /** True when a call now would be rejected without probing: open and the open period not over. */
  isOpen(): boolean {
    return this.#state === 'open' && this.#clock.now() < this.#openUntil;
  }

  /** True when a call now would be let through (closed, open period over, or a half-open probe slot free). Changes nothing. */
  admits(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') return this.#clock.now() >= this.#openUntil;
    return this.#probesStarted < this.#probes;
  }

  async execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const ctx = toPolicyContext(context);
    this.#admit();
    const period = this.#period;
    const isProbe = this.#state === 'half-open';
    const start = this.#clock.now();
    let result: T;
    try {
      result = await fn(ctx);
    } catch (err) {
      if (ParleyError.is(err, 'CANCELLED') || !this.#isFailure(err)) {
        this.#settle(period, isProbe, ParleyError.is(err, 'CANCELLED') ? 'ignore' : this.#okOrSlow(start));
      } else {
        this.#settle(period, isProbe, 'failure');
      }
      throw err;
    }
    this.#settle(period, isProbe, this.#okOrSlow(start));
    return result;
  }

  /** Forces the breaker closed and forgets all history. */
  reset(): void {
    this.#reopens = 0;
    this.#transition('closed');
  }

  #admit(): void {
    const now = this.#clock.now();
    if (this.#state === 'open') {
      if (now < this.#openUntil) throw this.#rejection(this.#openUntil - now);
      this.#transition('half-open');
    }
    if (this.#state === 'half-open') {
      if (this.#probesStarted >= this.#probes) throw this.#rejection(0);
      this.#probesStarted++;
    }
  }

  #okOrSlow(start: number): 'ok' | 'slow' {
    return this.#clock.now() - start >= this.#slowCallMs ? 'slow' : 'ok';
  }

  #settle(period: number, isProbe: boolean, outcome: 'ok' | 'slow' | 'failure' | 'ignore'): void {
    if (period !== this.#period) return;
    if (isProbe) {
      if (outcome === 'ignore') {
        this.#probesStarted--; // give the slot to another probe
      } else if (outcome === 'ok') {
        if (++this.#probeSuccesses >= this.#successesToClose) {
          this.#reopens = 0;
          this.#transition('closed');
        }
      } else if (++this.#probeFailures > this.#probes - this.#successesToClose) {
        this.#reopens++;
        this.#transition('open');
      }
      return;
    }
    if (outcome === 'ignore' || this.#state !== 'closed') return;
    const open = this.#strategy.record({ failure: outcome === 'failure', slow: outcome === 'slow' }, this.#clock.now());
    if (open) this.#transition('open');
  }

  #transition(to: CircuitState): void {
    const from = this.#state;
    this.#state = to;
    this.#period++;
    this.#probesStarted = this.#probeSuccesses = this.#probeFailures = 0;
    let openMs: number | undefined;
    if (to === 'open') {
      openMs = Math.min(this.#maxOpenMs, this.#openMs * this.#multiplier ** this.#reopens);
      this.#openUntil = this.#clock.now() + openMs;
    } else if (to === 'closed') {
      this.#strategy.reset(this.#clock.now());
    }
    if (from !== to)
      this.#onStateChange.fire({ breaker: this.name, from, to, ...(openMs === undefined ? {} : { openMs }) });
  }

  #rejection(retryInMs: number): ParleyError {
    return new ParleyError(
      'UNAVAILABLE',
      `circuit breaker '${this.name}' is open; calls are rejected until it recovers`,
      {
        details: { reason: 'circuit-open', breaker: this.name, state: this.#state, retryInMs },
      },
    );
  }
}
