/**
 * Keys and values are binary-safe `Uint8Array`s. Inside the store a key is also held as a
 * "byte string": one UTF-16 code unit per byte (0..255). Such strings compare with `<` exactly
 * as the bytes compare lexicographically, so they serve as Map keys and as the sort order of
 * the key index. Commands from the network may carry strings; those are UTF-8 encoded.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type Bytes = Uint8Array | string;

/** UTF-8 encodes a string; a Uint8Array passes through. */
export function toBytes(b: Bytes): Uint8Array {
  return typeof b === 'string' ? utf8(b) : b;
}

/** Short ASCII strings (most keys) are copied byte by byte: several times cheaper than TextEncoder for them. */
const ASCII_FAST_PATH_MAX = 64;

export function utf8(s: string): Uint8Array {
  if (s.length > ASCII_FAST_PATH_MAX) return encoder.encode(s);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}

/** Decodes UTF-8 (for display and tests; keys and values need not be UTF-8). */
export function bytesToUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** The byte string of `b`: code unit i = byte i. Order-preserving. */
export function byteString(b: Uint8Array): string {
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = '';
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/** Inverse of byteString. */
export function fromByteString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The smallest byte string greater than every string starting with `prefix`, or null when there
 * is none (empty prefix or all 0xff): increment the last byte below 0xff and cut after it.
 */
export function prefixEnd(prefix: string): string | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    if (c < 0xff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return null;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic byte comparison: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
