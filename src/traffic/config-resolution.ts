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

/**
 * Merges `over` onto `base` (neither is modified): how policy levels combine (node default →
 * service → action → call, `resolvePolicies`). Plain objects merge key by key (recursively);
 * arrays, class instances, functions and other values replace; `undefined` means "not set here".
 */
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
