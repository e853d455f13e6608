/**
 * Log-linear latency histogram (HDR-style): constant memory, O(1) record, percentiles within ~1.6 %.
 *
 * Values are recorded in units of 0.1 µs (an integer), so the smallest distinguishable latency is 100 ns and
 * the largest is about 214 s (2^31 units). Below 2^SUB_BITS units every value has its own bucket; above that,
 * each power of two is split into 2^SUB_BITS equal sub-buckets.
 * Invariant: bucketIndex is monotonic in the value, so walking buckets in order walks values in order.
 */
const SUB_BITS = 6;
const SUB_COUNT = 1 << SUB_BITS;
const UNITS_PER_US = 10;
const MAX_UNITS = 2 ** 31 - 1;
const BUCKETS = (32 - SUB_BITS) * SUB_COUNT + SUB_COUNT;

function bucketIndex(units: number): number {
  if (units < SUB_COUNT) return units;
  const exponent = 31 - Math.clz32(units); // >= SUB_BITS
  const shift = exponent - SUB_BITS;
  const sub = (units >>> shift) & (SUB_COUNT - 1);
  return (shift + 1) * SUB_COUNT + sub;
}

/** Lowest value (in units) that falls into bucket `index`. */
function bucketLowUnits(index: number): number {
  if (index < SUB_COUNT) return index;
  const shift = Math.floor(index / SUB_COUNT) - 1;
  const sub = index % SUB_COUNT;
  return (SUB_COUNT + sub) * 2 ** shift;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records one latency given in microseconds. */
  recordMicros(us: number): void {
    let units = Math.round(us * UNITS_PER_US);
    if (units < 0) units = 0;
    else if (units > MAX_UNITS) units = MAX_UNITS;
    this.counts[bucketIndex(units)]! += 1;
    this.total += 1;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  get count(): number {
    return this.total;
  }

  get meanMicros(): number {
    return this.total === 0 ? 0 : this.sumUs / this.total;
  }

  get maxMicros(): number {
    return this.maxUs;
  }

  /** Latency (µs) at quantile q in [0, 1]; the midpoint of the bucket holding that rank. NaN when empty. */
  percentileMicros(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const low = bucketLowUnits(i);
        const high = i + 1 < BUCKETS ? bucketLowUnits(i + 1) : low + 1;
        return Math.min((low + high - 1) / 2 / UNITS_PER_US, this.maxUs);
      }
    }
    return this.maxUs;
  }
}
