import { type Clock, systemTimer } from '../base/clock.js';
import type { Endpoint } from '../node/balancer.js';

export interface OutlierOptions {
  /** Length of a counting interval; rates are judged and counters reset at its end, ms (default 10 000). */
  intervalMs?: number;
  /** Eject at once after this many failures in a row (default 5). */
  consecutiveFailures?: number;
  /** A node needs this many calls in the interval to be judged on its rate (default 10). */
  minRequests?: number;
  /** Eject when a node's failure rate exceeds the mean of its peers' by at least this (default 0.5)… */
  failureRateMargin?: number;
  /** …and is at least this (default 0.5). */
  minFailureRate?: number;
  /** First ejection length; the n-th ejection of a node lasts n × this, ms (default 30 000). */
  baseEjectionMs?: number;
  /** Longest ejection, ms (default 300 000). */
  maxEjectionMs?: number;
  /** At most this percentage of known nodes ejected at once, and always at least one may be (default 10). */
  maxEjectionPercent?: number;
  clock?: Clock;
}

interface NodeHealth {
  calls: number;
  failures: number;
  run: number;
  ejections: number;
  ejectedUntil: number;
  /** Ejected at some point during the current interval. */
  ejectedThisInterval: boolean;
}

/**
 * Passive outlier ejection (Envoy / gRPC A50 style) fed by call results. A node is ejected when it
 * fails `consecutiveFailures` times in a row, or when at the end of an interval its failure rate
 * stands well above its peers'. Ejections grow with each repeat (base × count, capped) and never
 * cover more than maxEjectionPercent of the nodes seen. Evaluation is lazy (on `record`), no timers.
 * A node that stays healthy through a whole interval after an ejection earns back one step of its multiplier.
 * Invariant: ejected nodes ≤ max(1, floor(known × maxEjectionPercent / 100)).
 */
export class OutlierDetector {
  readonly #o: Required<Omit<OutlierOptions, 'clock'>>;
  readonly #clock: Clock;
  readonly #nodes = new Map<string, NodeHealth>();
  #intervalEnd: number;

  constructor(options: OutlierOptions = {}) {
    this.#o = {
      intervalMs: options.intervalMs ?? 10_000,
      consecutiveFailures: options.consecutiveFailures ?? 5,
      minRequests: options.minRequests ?? 10,
      failureRateMargin: options.failureRateMargin ?? 0.5,
      minFailureRate: options.minFailureRate ?? 0.5,
      baseEjectionMs: options.baseEjectionMs ?? 30_000,
      maxEjectionMs: options.maxEjectionMs ?? 300_000,
      maxEjectionPercent: options.maxEjectionPercent ?? 10,
    };
    this.#clock = options.clock ?? systemTimer;
    this.#intervalEnd = this.#clock.now() + this.#o.intervalMs;
  }

  record(nodeId: string, ok: boolean): void {
    const now = this.#clock.now();
    if (now >= this.#intervalEnd) this.#evaluate(now);
    const h = this.#get(nodeId);
    h.calls++;
    if (ok) {
      h.run = 0;
      return;
    }
    h.failures++;
    if (++h.run >= this.#o.consecutiveFailures) this.#eject(h, now);
  }

  isEjected(nodeId: string): boolean {
    const h = this.#nodes.get(nodeId);
    return h !== undefined && this.#clock.now() < h.ejectedUntil;
  }

  /** The candidates not ejected; all of them if every one is ejected (never leave a caller with nothing). */
  filter(candidates: readonly Endpoint[]): readonly Endpoint[] {
    const rest = candidates.filter((e) => !this.isEjected(e.nodeId));
    return rest.length > 0 ? rest : candidates;
  }

  get ejectedCount(): number {
    const now = this.#clock.now();
    let n = 0;
    for (const h of this.#nodes.values()) if (now < h.ejectedUntil) n++;
    return n;
  }

  #evaluate(now: number): void {
    const ejectedNow = new Set<NodeHealth>();
    const judged = [...this.#nodes.values()].filter((h) => h.calls >= this.#o.minRequests && now >= h.ejectedUntil);
    const rates = judged.map((h) => h.failures / h.calls);
    const sum = rates.reduce((a, b) => a + b, 0);
    judged.forEach((h, i) => {
      const rate = rates[i]!;
      const peers = judged.length > 1 ? (sum - rate) / (judged.length - 1) : 0;
      if (judged.length > 1 && rate >= this.#o.minFailureRate && rate - peers >= this.#o.failureRateMargin) {
        if (this.#eject(h, now)) ejectedNow.add(h);
      }
    });
    for (const h of this.#nodes.values()) {
      // A node that stayed in through a whole interval earns back one step of its ejection multiplier.
      if (now >= h.ejectedUntil && h.ejections > 0 && !h.ejectedThisInterval && !ejectedNow.has(h)) h.ejections--;
      h.ejectedThisInterval = ejectedNow.has(h);
      h.calls = h.failures = 0;
    }
    this.#intervalEnd = now + this.#o.intervalMs;
  }

  #eject(h: NodeHealth, now: number): boolean {
    if (now < h.ejectedUntil) return false;
    const cap = Math.max(1, Math.floor((this.#nodes.size * this.#o.maxEjectionPercent) / 100));
    if (this.ejectedCount >= cap) return false;
    h.ejections++;
    h.ejectedThisInterval = true;
    h.run = 0;
    h.ejectedUntil = now + Math.min(this.#o.maxEjectionMs, this.#o.baseEjectionMs * h.ejections);
    return true;
  }

  #get(nodeId: string): NodeHealth {
    let h = this.#nodes.get(nodeId);
    if (!h) {
      h = {
        calls: 0,
        failures: 0,
        run: 0,
        ejections: 0,
        ejectedUntil: Number.NEGATIVE_INFINITY,
        ejectedThisInterval: false,
      };
      this.#nodes.set(nodeId, h);
    }
    return h;
  }
}
