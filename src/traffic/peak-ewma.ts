import { type Clock, systemTimer } from '../base/clock.js';
import { type Balancer, type CallOutcome, type Endpoint, type PickRequest, untried } from '../node/balancer.js';
import { twoDistinct } from './pick-helpers.js';

export interface PeakEwmaOptions {
  /** Time constant τ of the moving average, ms (default 1 000): a sample's weight halves every τ·ln2. */
  decayMs?: number;
  /**
   * Latency charged for a failed call when it failed faster than this, ms (default 1 000). Without it
   * a node that fails instantly looks like the fastest node and attracts all traffic.
   */
  failurePenaltyMs?: number;
  /**
   * Least weight a sample below the estimate gets, 0–1 (default 0.1; 0 is Finagle's time-weighted
   * average only). The time-weighted average moves by `1 − e^(−Δt/τ)` per sample, which at hundreds of
   * samples per second per node is ~0.1 %: after a jitter peak the estimate stays near the peak for
   * about τ, so fast nodes look as slow as their recent worst sample. With a floor α each sample
   * moves it at least α of the way, so it returns to typical latency within ~1/α samples.
   */
  sampleWeight?: number;
  random?: () => number;
  clock?: Clock;
}

/** Load charged to a node with calls in flight but no latency sample yet: keeps one cold node from taking a burst. */
const COLD_PENALTY = 2 ** 20;

interface NodeStats {
  /** Peak-sensitive EWMA of latency, ms, as of `stamp`. */
  cost: number;
  stamp: number;
  pending: number;
  sampled: boolean;
}

/**
 * Peak-EWMA latency × (in-flight + 1), picked by power of two choices (Finagle / Linkerd style).
 *
 * - A sample above the current cost replaces it at once (peak-sensitive: a slow node is
 *   penalised immediately); a sample below it is blended in with weight `1 − e^(−Δt/τ)`.
 * - With no samples the cost decays toward 0 over time (read through the clock), so a node that
 *   was slow gets probed again after a while instead of being starved forever.
 * - Failures count as at least `failurePenaltyMs` of latency.
 *
 * Invariant: cost ≥ 0 and pending ≥ 0 for every node.
 */
export class PeakEwmaBalancer implements Balancer {
  readonly #decayMs: number;
  readonly #failurePenaltyMs: number;
  readonly #keep: number;
  readonly #random: () => number;
  readonly #clock: Clock;
  readonly #stats = new Map<string, NodeStats>();

  constructor(options: PeakEwmaOptions = {}) {
    this.#decayMs = options.decayMs ?? 1_000;
    this.#failurePenaltyMs = options.failurePenaltyMs ?? 1_000;
    this.#keep = 1 - Math.min(1, Math.max(0, options.sampleWeight ?? 0.1));
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemTimer;
  }

  /** The load score used for picking: decayed cost × (pending + 1). Lower is better. */
  load(nodeId: string): number {
    const s = this.#stats.get(nodeId);
    if (!s) return 0;
    if (!s.sampled) return s.pending > 0 ? COLD_PENALTY + s.pending : 0;
    return (this.#decayed(s, this.#clock.now()) + 0.001) * (s.pending + 1);
  }

  /** The current latency estimate, ms (decayed to now). */
  cost(nodeId: string): number {
    const s = this.#stats.get(nodeId);
    return s ? this.#decayed(s, this.#clock.now()) : 0;
  }

  pick(candidates: readonly Endpoint[], request?: PickRequest): Endpoint {
    const list = untried(candidates, request);
    if (list.length <= 1) return list[0]!;
    const [i, j] = twoDistinct(this.#random, list.length);
    const a = list[i]!;
    const b = list[j]!;
    return this.load(b.nodeId) < this.load(a.nodeId) ? b : a;
  }

  onStart(endpoint: Endpoint, _request?: PickRequest): void {
    this.#get(endpoint.nodeId).pending++;
  }

  onEnd(endpoint: Endpoint, _request: PickRequest, outcome: CallOutcome): void {
    const s = this.#get(endpoint.nodeId);
    s.pending = Math.max(0, s.pending - 1);
    const now = this.#clock.now();
    const rtt = Math.max(0, outcome.ok ? outcome.latencyMs : Math.max(outcome.latencyMs, this.#failurePenaltyMs));
    const current = this.#decayed(s, now);
    if (!s.sampled || rtt > current) {
      s.cost = rtt;
    } else {
      // EWMA step: the old estimate keeps weight e^(−Δt/τ), at most 1 − α; the new sample gets the rest.
      const w = Math.min(this.#keep, Math.exp(-Math.max(0, now - s.stamp) / this.#decayMs));
      s.cost = s.cost * w + rtt * (1 - w);
    }
    s.sampled = true;
    s.stamp = now;
  }

  /** Cost decayed toward 0 for the time since the last sample (a zero-latency "observation" at read time). */
  #decayed(s: NodeStats, now: number): number {
    return s.cost * Math.exp(-Math.max(0, now - s.stamp) / this.#decayMs);
  }

  #get(nodeId: string): NodeStats {
    let s = this.#stats.get(nodeId);
    if (!s) {
      s = { cost: 0, stamp: this.#clock.now(), pending: 0, sampled: false };
      this.#stats.set(nodeId, s);
    }
    return s;
  }
}
