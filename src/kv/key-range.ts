import { type Bytes, byteString, prefixEnd, toBytes } from './bytes.js';
import type { KeyRangeSpec } from './types.js';

/**
 * A normalised key range over byte strings: [from, to), `to` null = unbounded; `single` marks
 * a one-key range (then to = from + '\0').
 */
export interface KeyRange {
  readonly from: string;
  readonly to: string | null;
  readonly single: boolean;
}

export function keyRange(spec: KeyRangeSpec<Bytes>): KeyRange {
  if ('key' in spec) {
    const k = byteString(toBytes(spec.key));
    return { from: k, to: k + '\0', single: true };
  }
  if ('prefix' in spec) {
    const p = byteString(toBytes(spec.prefix));
    return { from: p, to: prefixEnd(p), single: false };
  }
  const from = byteString(toBytes(spec.from));
  return { from, to: spec.to === undefined ? null : byteString(toBytes(spec.to)), single: false };
}

export function inRange(r: KeyRange, k: string): boolean {
  return k >= r.from && (r.to === null || k < r.to);
}
