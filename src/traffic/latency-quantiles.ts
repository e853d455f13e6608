/**
 * Quantiles of recent latencies: the last `size` samples in a ring; a quantile sorts a copy, and
 * the result is cached until `recomputeEvery` more samples arrive (so a hot path pays the sort
 * rarely). Exact over the window; memory O(size).
 */
export class LatencyQuantiles {
  readonly #ring: Float64Array;
  #count = 0;
  #next = 0;
  #sorted: Float64Array | undefined;
  #sinceSort = 0;
  readonly #recomputeEvery: number;

  constructor(size = 512, recomputeEvery = 32) {
    this.#ring = new Float64Array(Math.max(1, size));
    this.#recomputeEvery = Math.max(1, recomputeEvery);
  }

  get count(): number {
    return this.#count;
  }

  record(ms: number): void {
    this.#ring[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#count = Math.min(this.#count + 1, this.#ring.length);
    this.#sinceSort++;
  }

  /** The q-quantile (0..1) of the window by nearest rank, or undefined with no samples. */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    if (!this.#sorted || this.#sinceSort >= this.#recomputeEvery) {
      this.#sorted = this.#ring.slice(0, this.#count).sort();
      this.#sinceSort = 0;
    }
    const rank = Math.min(this.#sorted.length - 1, Math.max(0, Math.ceil(q * this.#sorted.length) - 1));
    return this.#sorted[rank];
  }
}
