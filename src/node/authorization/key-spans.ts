/**
 * Spans of KV keys for authorization: a key is a "byte string" (one UTF-16 code unit per byte,
 * 0..255, the KV's own ordering: `<` on these strings is the byte order), and a span is the
 * half-open interval [from, to) of them, `to` null = unbounded (every key ≥ from).
 *
 * Invariant: `covered(span, grants)` is true exactly when every key the span can hold — however
 * long, open-ended spans included — lies in some grant; `intersects` is true exactly when some
 * key lies in both. Both are exact on the discrete order of byte strings: between `k` and `k\0`
 * there is no key, and [p, prefixEnd(p)) holds exactly the keys that start with p.
 *
 * (kv/ sits above node/ and cannot be imported here; `prefixEnd` mirrors kv/bytes.ts.)
 */
export interface KeySpan {
  readonly from: string;
  readonly to: string | null;
}

const encoder = new TextEncoder();

/** The byte string of a UTF-8 string (a prefix as a policy writes it). */
export function utf8ByteString(s: string): string {
  const bytes = encoder.encode(s);
  let out = '';
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

/** The smallest byte string above every string starting with `prefix`; null when none (empty, all 0xff). */
export function prefixEnd(prefix: string): string | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    if (c < 0xff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return null;
}

/** Every key that starts with `prefix` (a byte string). */
export function prefixSpan(prefix: string): KeySpan {
  return { from: prefix, to: prefixEnd(prefix) };
}

/** One key. */
export function keySpan(key: string): KeySpan {
  return { from: key, to: `${key}\0` };
}

/**
 * The span a request really touches: an empty or inverted [from, to) reads nothing, but is
 * checked as the one key `from` so that a malformed range can never be a way around a rule.
 */
export function normalizeSpan(span: KeySpan): KeySpan {
  return span.to !== null && span.to <= span.from ? keySpan(span.from) : span;
}

/** a < b, where null is +infinity. */
function below(a: string | null, b: string | null): boolean {
  if (a === null) return false;
  return b === null || a < b;
}

/** True when some key lies in both spans (an empty span shares no key). */
export function intersects(a: KeySpan, b: KeySpan): boolean {
  return below(a.from, a.to) && below(b.from, b.to) && below(a.from, b.to) && below(b.from, a.to);
}

/** True when every key of `span` lies in the union of `grants`. */
export function covered(span: KeySpan, grants: readonly KeySpan[]): boolean {
  const sorted = [...grants].sort((x, y) => (x.from < y.from ? -1 : x.from > y.from ? 1 : 0));
  // Every key in [span.from, reach) is covered so far; done once reach passes span.to.
  let reach = span.from;
  const done = () => span.to !== null && reach >= span.to;
  if (done()) return true;
  for (const g of sorted) {
    if (g.from > reach) break; // a gap at `reach`: later grants start higher still
    if (g.to === null) return true;
    if (g.to > reach) reach = g.to;
    if (done()) return true;
  }
  return false;
}

/** The parts of `a` outside `b`: zero, one or two spans. */
export function minus(a: KeySpan, b: KeySpan): KeySpan[] {
  if (!intersects(a, b)) return [a];
  const out: KeySpan[] = [];
  if (a.from < b.from) out.push({ from: a.from, to: b.from });
  if (b.to !== null && (a.to === null || a.to > b.to)) out.push({ from: b.to, to: a.to });
  return out;
}
