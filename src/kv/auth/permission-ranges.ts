import { byteString, bytesToUtf8, fromByteString } from '../bytes.js';
import type { KeyRange } from '../key-range.js';
import type { KvPermission, KvPermissionType } from './auth-types.js';

/**
 * Permissions as intervals of byte strings, and the one question asked of them: does the union
 * of a user's intervals cover a requested range? A request is allowed only when every key it
 * could touch is covered, so an open-ended request ({ from } with no `to`, a watch "from key")
 * needs permissions that reach the end of the key space, and a prefix 'a/' ([a/, a0)) never
 * covers 'a0'.
 *
 * Invariant: `covers` is exact over byte strings (no sampling): the request [from, to) is
 * covered iff the sweep from `from` over the sorted intervals reaches `to` (or, for an
 * open-ended request, reaches an open-ended interval) without a gap.
 */

/** [from, to) over byte strings; `to` null = to the end of the key space. */
export interface Interval {
  readonly from: string;
  readonly to: string | null;
}

/** The interval a stored permission grants. */
export function permissionInterval(p: KvPermission): Interval {
  const from = byteString(p.key);
  if (p.rangeEnd === undefined) return { from, to: `${from}\0` };
  if (p.rangeEnd.length === 1 && p.rangeEnd[0] === 0) return { from, to: null };
  return { from, to: byteString(p.rangeEnd) };
}

export function grants(type: KvPermissionType, need: 'read' | 'write'): boolean {
  return type === 'readwrite' || type === need;
}

/** Sorts by `from` (the order `covers` needs); done once per user and auth revision. */
export function sortIntervals(list: Interval[]): Interval[] {
  return list.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
}

/** Whether the union of `sorted` (by `from`) covers every key of `range`. An empty range is covered. */
export function covers(sorted: readonly Interval[], range: KeyRange): boolean {
  const to = range.to;
  let reached = range.from;
  if (to !== null && reached >= to) return true;
  for (const iv of sorted) {
    if (iv.from > reached) return false;
    if (iv.to === null) return true;
    if (iv.to > reached) {
      reached = iv.to;
      if (to !== null && reached >= to) return true;
    }
  }
  return false;
}

/** `[key, rangeEnd)` for messages: 'k', ['a', 'b') or ['a', end). */
export function describeRange(range: KeyRange): string {
  const show = (s: string) => JSON.stringify(bytesToUtf8(fromByteString(s)));
  if (range.single) return `key ${show(range.from)}`;
  return `range [${show(range.from)}, ${range.to === null ? 'end of keys' : show(range.to)})`;
}
