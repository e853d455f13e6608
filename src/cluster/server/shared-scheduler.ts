import { type DriverScheduler, realScheduler } from '../../raft/driver.js';

/**
 * The scheduler every Raft group of one GroupHost shares (a `DriverScheduler` for each group's
 * driver), so that a member hosting a hundred groups runs one tick timer, not a hundred:
 *
 * - `every(ms, fn)`: every registered function of one period runs from ONE timer (one per
 *   distinct period; the host's groups all tick at the same period, so one in all).
 * - `defer(fn)`: the functions deferred before a turn runs all run in that one turn (one
 *   `base.defer`, i.e. one setImmediate), then the `afterTurn` hooks: the host flushes the raft
 *   messages of every group to each destination there, as one call per destination.
 *
 * Invariants: a function deferred during a turn runs in the next turn (a group that re-kicks
 * itself cannot starve the others); after-turn hooks run after every deferred function of the
 * turn, once per turn. One function that throws does not keep the others of its turn from
 * running: the first error is re-thrown when the turn is over (as an unhandled error of a lone
 * driver's setImmediate would be).
 */
export class SharedScheduler implements DriverScheduler {
  private readonly periods = new Map<number, { readonly fns: Set<() => void>; readonly cancel: () => void }>();
  private queue: (() => void)[] = [];
  private readonly hooks = new Set<() => void>();
  private turnScheduled = false;
  private inTurn = false;

  constructor(private readonly base: DriverScheduler = realScheduler) {}

  every(ms: number, fn: () => void): () => void {
    let period = this.periods.get(ms);
    if (period === undefined) {
      const fns = new Set<() => void>();
      const cancel = this.base.every(ms, () => this.runAll([...fns]));
      period = { fns, cancel };
      this.periods.set(ms, period);
    }
    const entry = () => fn();
    period.fns.add(entry);
    const p = period;
    return () => {
      p.fns.delete(entry);
      if (p.fns.size === 0 && this.periods.get(ms) === p) {
        p.cancel();
        this.periods.delete(ms);
      }
    };
  }

  defer(fn: () => void): void {
    this.queue.push(fn);
    this.scheduleTurn();
  }

  /** Runs `fn` at the end of every turn in which something was deferred or `requestTurn` was called. */
  afterTurn(fn: () => void): () => void {
    this.hooks.add(fn);
    return () => this.hooks.delete(fn);
  }

  /** Makes sure a turn runs soon (work for the after-turn hooks arrived outside a turn). */
  requestTurn(): void {
    if (!this.inTurn) this.scheduleTurn();
  }

  /** Timers of periods still registered (one when every group ticks at the same period). */
  get timers(): number {
    return this.periods.size;
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    this.base.defer(() => this.turn());
  }

  private turn(): void {
    this.turnScheduled = false;
    const fns = this.queue;
    this.queue = [];
    this.inTurn = true;
    try {
      this.runAll([...fns, ...this.hooks]);
    } finally {
      this.inTurn = false;
    }
  }

  private runAll(fns: readonly (() => void)[]): void {
    let first: unknown;
    let failed = false;
    for (const fn of fns) {
      try {
        fn();
      } catch (err) {
        if (!failed) first = err;
        failed = true;
      }
    }
    if (failed) throw first;
  }
}
