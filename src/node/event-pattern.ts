/**
 * Event name patterns: names are dot-separated segments. `*` matches exactly one segment,
 * `**` matches zero or more segments (so `order.**` matches `order`, `order.a`, `order.a.b`).
 * Every other segment matches itself. Callers cache results per event name.
 */
export function isPattern(name: string): boolean {
  return name.includes('*');
}

export function compilePattern(pattern: string): (name: string) => boolean {
  if (!isPattern(pattern)) return (name) => name === pattern;
  const parts = pattern.split('.');
  return (name) => matchSegments(parts, 0, name.split('.'), 0);
}

function matchSegments(p: readonly string[], i: number, n: readonly string[], j: number): boolean {
  while (i < p.length) {
    const part = p[i]!;
    if (part === '**') {
      // Try every number of segments for '**', shortest first.
      for (let k = j; k <= n.length; k++) if (matchSegments(p, i + 1, n, k)) return true;
      return false;
    }
    if (j >= n.length) return false;
    if (part !== '*' && part !== n[j]) return false;
    i++;
    j++;
  }
  return j === n.length;
}

export function validateEventName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('*')) {
    throw new TypeError(`event name must be a non-empty string without wildcards, got '${String(name)}'`);
  }
}
