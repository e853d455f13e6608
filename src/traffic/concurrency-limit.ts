/**
 * An adaptive limit on calls in flight, moved by measured latency (Little's law: when latency
 * rises at the same concurrency, a queue is forming). Fed one sample per finished call.
 */
export interface ConcurrencyLimit {
  readonly limit: number;
  /** `rttMs`: the call's latency; `inflight`: calls in flight when it started; `dropped`: it failed from overload or timed out. */
  onSample(rttMs: number, inflight: number, dropped: boolean): void;
}

export interface AimdOptions {
  initial?: number;
  min?: number;
  max?: number;
  /** Multiplier on a drop (default 0.9). */
  backoffRatio?: number;
  /** A sample slower than this counts as a drop, ms (default 5 000). */
  slowMs?: number;
}

/**
 * Additive increase, multiplicative decrease: +1 per good sample while the limit is in use
 * (inflight ≥ limit / 2), × backoffRatio on a drop. Invariant: min ≤ limit ≤ max.
 */
export class AimdLimit implements ConcurrencyLimit {
  #limit: number;
  readonly #min: number;
  readonly #max: number;
  readonly #ratio: number;
  readonly #slowMs: number;

  constructor(o: AimdOptions = {}) {
    this.#min = o.min ?? 1;
    this.#max = o.max ?? 200;
    this.#limit = Math.min(this.#max, Math.max(this.#min, o.initial ?? 20));
    this.#ratio = o.backoffRatio ?? 0.9;
    this.#slowMs = o.slowMs ?? 5_000;
  }

  get limit(): number {
    return Math.floor(this.#limit);
  }

  onSample(rttMs: number, inflight: number, dropped: boolean): void {
    if (dropped || rttMs > this.#slowMs) this.#limit = Math.max(this.#min, this.#limit * this.#ratio);
    else if (inflight >= this.#limit / 2) this.#limit = Math.min(this.#max, this.#limit + 1);
  }
}

export interface GradientOptions {
  initial?: number;
  min?: number;
  max?: number;
  /** Tolerated ratio of short-term to long-term latency before shrinking (default 1.5). */
  tolerance?: number;
  /** Samples in the long-term latency average (default 600). */
  longWindow?: number;
  /** Headroom added each update so the limit can probe upward (default 4). */
  queueSize?: number;
  /** Weight of a new estimate in the smoothed limit (default 0.2). */
  smoothing?: number;
}

/**
 * Gradient limit in the manner of Netflix concurrency-limits' Gradient2: gradient =
 * clamp(0.5, 1, tolerance × longRtt / rtt); target = limit × gradient + queueSize; the limit moves
 * toward the target by `smoothing`. It does not grow while less than half of it is in use.
 * A drop counts as a sample of at least 2 × longRtt (it would have been slow), which drives the
 * gradient toward its floor of 0.5.
 * Invariant: min ≤ limit ≤ max.
 */
export class GradientLimit implements ConcurrencyLimit {
  #limit: number;
  #longRtt = 0;
  #samples = 0;
  readonly #o: Required<GradientOptions>;

  constructor(o: GradientOptions = {}) {
    this.#o = {
      initial: o.initial ?? 20,
      min: o.min ?? 1,
      max: o.max ?? 200,
      tolerance: o.tolerance ?? 1.5,
      longWindow: o.longWindow ?? 600,
      queueSize: o.queueSize ?? 4,
      smoothing: o.smoothing ?? 0.2,
    };
    this.#limit = Math.min(this.#o.max, Math.max(this.#o.min, this.#o.initial));
  }

  get limit(): number {
    return Math.floor(this.#limit);
  }

  get longRtt(): number {
    return this.#longRtt;
  }

  onSample(rttMs: number, inflight: number, dropped: boolean): void {
    const rtt = dropped && this.#longRtt > 0 ? Math.max(rttMs, 2 * this.#longRtt) : Math.max(rttMs, 1e-3);
    this.#samples++;
    // Long-term average: a plain mean until the window fills, then an EWMA over ~longWindow samples.
    const w = 1 / Math.min(this.#samples, this.#o.longWindow);
    this.#longRtt = this.#longRtt * (1 - w) + rtt * w;
    if (inflight < this.#limit / 2 && !dropped) return; // app-limited: no evidence about a higher limit
    const gradient = Math.min(1, Math.max(0.5, (this.#o.tolerance * this.#longRtt) / rtt));
    const target = this.#limit * gradient + this.#o.queueSize;
    const next = this.#limit * (1 - this.#o.smoothing) + target * this.#o.smoothing;
    this.#limit = Math.min(this.#o.max, Math.max(this.#o.min, next));
  }
}
