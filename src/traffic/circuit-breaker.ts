import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import { type Clock, systemTimer } from './clock.js';
import { Emitter, type Event } from './event.js';
import { type ExecuteContext, type Policy, type PolicyContext, toPolicyContext } from './policy.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** One finished call as a breaker sees it. */
export interface CallRecord {
  readonly failed: boolean;
  readonly slow: boolean;
}

/**
 * Decides, from the calls seen while closed, when the circuit opens. Implementations:
 * ConsecutiveFailures, CountWindow, TimeWindow (in breaker-windows.ts).
 */
export interface TripStrategy {
  record(call: CallRecord, now: number): void;
  shouldTrip(now: number): boolean;
  reset(): void;
}

export interface CircuitBreakerOptions {
  /** Named in errors and events, e.g. 'user.get@n2'. */
  readonly name: string;
  readonly trip: TripStrategy;
  readonly clock?: Clock;
  /** How long the circuit stays open the first time (default 5000 ms). */
  readonly openMs?: number;
  /** Each reopening from half-open doubles the open time, up to this (default 60000 ms). */
  readonly maxOpenMs?: number;
  /** Probes admitted at once in half-open; that many must succeed to close (default 3). */
  readonly halfOpenProbes?: number;
  /** A call that takes at least this long counts as slow (default: never). */
  readonly slowCallMs?: number;
  /** Which errors count as failures (default: failureCodes below, and any non-Parley error). */
  readonly isFailure?: (error: unknown) => boolean;
}

/**
 * Codes that say the target is unhealthy. Errors the caller caused (INVALID_ARGUMENT, NOT_FOUND,
 * PERMISSION_DENIED, FAILED_PRECONDITION, CANCELLED, …) do not count against it. DEADLINE_EXCEEDED
 * does: a breaker that does not see timeouts never opens on a hanging node.
 */
export const DEFAULT_FAILURE_CODES: readonly ErrorCode[] = [
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'INTERNAL',
  'UNKNOWN',
  'DATA_LOSS',
];

export interface StateChange {
  readonly name: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
}

/**
 * A circuit breaker. Closed: calls pass and are recorded by the trip strategy. Open: calls fail
 * at once with UNAVAILABLE and a retryAfterMs until the open time has passed. Half-open: up to
 * `halfOpenProbes` calls pass at once; when that many succeed the circuit closes, and the first
 * failure reopens it for twice as long (capped).
 *
 * Invariants: probes in flight <= halfOpenProbes; openUntil is set iff state is 'open'; events
 * fire only on transitions, never while idle.
 */
export class CircuitBreakerPolicy implements Policy {
  private current: CircuitState = 'closed';
  private openUntil = 0;
  private nextOpenMs: number;
  private probesInFlight = 0;
  private probesSucceeded = 0;
  private readonly changes = new Emitter<StateChange>();
  private readonly clock: Clock;
  private readonly openMs: number;
  private readonly maxOpenMs: number;
  private readonly probes: number;
  private readonly isFailure: (error: unknown) => boolean;

  readonly onStateChange: Event<StateChange> = this.changes.event;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.clock = options.clock ?? systemTimer;
    this.openMs = options.openMs ?? 5000;
    this.maxOpenMs = Math.max(this.openMs, options.maxOpenMs ?? 60_000);
    this.probes = Math.max(1, options.halfOpenProbes ?? 3);
    this.nextOpenMs = this.openMs;
    this.isFailure =
      options.isFailure ?? ((e) => !(e instanceof ParleyError) || DEFAULT_FAILURE_CODES.includes(e.code));
  }

  /** The state as of now (an open circuit whose time is up reads as half-open). */
  get state(): CircuitState {
    if (this.current === 'open' && this.clock.now() >= this.openUntil) return 'half-open';
    return this.current;
  }

  /** True while calls would be refused at once (balancers skip such targets). */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  async execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
    const probe = this.admit();
    const started = this.clock.now();
    let result: T;
    try {
      result = await fn(toPolicyContext(context));
    } catch (err) {
      this.finish(probe, { failed: this.isFailure(err), slow: this.isSlow(started) });
      throw err;
    }
    this.finish(probe, { failed: false, slow: this.isSlow(started) });
    return result;
  }

  /** Admits a call or throws; returns whether it is a half-open probe. */
  private admit(): boolean {
    if (this.current === 'open') {
      const wait = this.openUntil - this.clock.now();
      if (wait > 0) throw this.refusal(wait);
      this.transition('half-open');
    }
    if (this.current === 'half-open') {
      if (this.probesInFlight >= this.probes) throw this.refusal(0);
      this.probesInFlight++;
      return true;
    }
    return false;
  }

  private finish(probe: boolean, call: CallRecord): void {
    const now = this.clock.now();
    const bad = call.failed || call.slow;
    if (probe) {
      this.probesInFlight--;
      if (this.current !== 'half-open') return; // another probe already decided
      if (bad) this.open(now);
      else if (++this.probesSucceeded >= this.probes) this.close();
      return;
    }
    if (this.current !== 'closed') return; // a call admitted before the circuit opened
    this.options.trip.record(call, now);
    if (this.options.trip.shouldTrip(now)) this.open(now);
  }

  private open(now: number): void {
    this.openUntil = now + this.nextOpenMs;
    this.nextOpenMs = Math.min(this.maxOpenMs, this.nextOpenMs * 2);
    this.probesSucceeded = 0;
    this.options.trip.reset();
    this.transition('open');
  }

  private close(): void {
    this.nextOpenMs = this.openMs;
    this.probesSucceeded = 0;
    this.options.trip.reset();
    this.transition('closed');
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    if (to !== 'open') this.openUntil = 0;
    if (to === 'half-open') this.probesSucceeded = 0;
    this.changes.fire({ name: this.options.name, from, to });
  }

  private isSlow(started: number): boolean {
    const limit = this.options.slowCallMs;
    return limit !== undefined && this.clock.now() - started >= limit;
  }

  private refusal(waitMs: number): ParleyError {
    const retryAfterMs = Math.max(0, Math.ceil(waitMs));
    return new ParleyError(
      'UNAVAILABLE',
      waitMs > 0
        ? `circuit '${this.options.name}' is open after repeated failures; retry in ${retryAfterMs} ms or use another target`
        : `circuit '${this.options.name}' is half-open and already probing; retry shortly`,
      { retryAfterMs, details: { circuit: this.options.name, state: this.current } },
    );
  }
}
