/**
 * Policy options come from four levels; the most specific that sets a value wins:
 * node default → service → action → call. Plain objects merge key by key (recursively); arrays,
 * class instances, functions and other values replace; `undefined` means "not set here".
 */
export interface ConfigLayers<T> {
  readonly node?: DeepPartial<T>;
  readonly service?: DeepPartial<T>;
  readonly action?: DeepPartial<T>;
  readonly call?: DeepPartial<T>;
}

export type DeepPartial<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly unknown[]
    ? T
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Merges `over` onto `base` (neither is modified). */
export function mergeConfig<T>(base: DeepPartial<T> | undefined, over: DeepPartial<T> | undefined): DeepPartial<T> {
  if (over === undefined) return base as DeepPartial<T>;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeConfig(out[key], value) : value;
  }
  return out as DeepPartial<T>;
}

/** Resolves the options for one call from its layers. */
export function resolveConfig<T>(layers: ConfigLayers<T>): DeepPartial<T> {
  let out: DeepPartial<T> = {} as DeepPartial<T>;
  for (const layer of [layers.node, layers.service, layers.action, layers.call]) out = mergeConfig(out, layer);
  return out;
}

/**
 * The fixed order of the caller-side pipeline, outermost first, and why each sits where it does.
 */
export const CALLER_PIPELINE = [
  ['fallback', 'outermost: replaces the final error, after retries and hedges are exhausted'],
  ['retry', 'each attempt goes through everything below: a fresh breaker check, timeout and balancer pick'],
  ['hedging', 'below retry so a hedged group counts as one attempt; each copy is picked and timed on its own'],
  ['circuit-breaker', 'outside the timeout so the breaker sees timeouts (DEADLINE_EXCEEDED) as failures'],
  ['timeout', 'per attempt; the whole call is bounded by the caller deadline the retry policy honours'],
  ['bulkhead', 'limits concurrent attempts; a queued attempt still counts against its timeout'],
  ['rate-limit', 'innermost policy: only attempts that will really be sent spend tokens'],
  [
    'balancer-pick',
    'chooses the node per attempt, excluding nodes already tried, skipping open breakers and ejected nodes',
  ],
] as const;

/** The fixed order of the server-side pipeline, outermost first. */
export const SERVER_PIPELINE = [
  ['rate-limit', 'cheapest rejection first: over-quota callers cost almost nothing'],
  ['load-shedding', 'adaptive concurrency limit by priority; sheds before queues and latency grow'],
  ['bulkhead', 'bounds what actually runs'],
  [
    'idempotency',
    'answers repeats from the store or joins the running call; inside the limits so repeats cannot bypass quotas',
  ],
  ['handler', 'the service code'],
] as const;
