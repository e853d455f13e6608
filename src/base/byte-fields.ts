/**
 * Fields of hand-written binary records (the KV put command, the raft proposal envelope), read
 * and written without a DataView or a TextDecoder call per field: those allocations and calls
 * were a visible part of a put's CPU on every member, which decodes every committed entry.
 * Numbers are little-endian on every platform.
 */

/** Scratch space for f64s; the byte order of the platform is corrected when copying. */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const BIG_ENDIAN_PLATFORM = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** Writes `x` as a little-endian f64 at `out[at, at + 8)`. */
export function writeF64(out: Uint8Array, at: number, x: number): void {
  f64[0] = x;
  for (let i = 0; i < 8; i++) out[at + i] = f64Bytes[BIG_ENDIAN_PLATFORM ? 7 - i : i]!;
}

/** Reads the little-endian f64 at `bytes[at, at + 8)` (the caller checked the bounds). */
export function readF64(bytes: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[BIG_ENDIAN_PLATFORM ? 7 - i : i] = bytes[at + i]!;
  return f64[0]!;
}

/** What shortText needs of a TextDecoder. */
export interface TextDecoderLike {
  decode(bytes: Uint8Array): string;
}

/**
 * The text of a short field `bytes[from, to)`: ASCII (member and client ids) without a decoder
 * call, anything else through `decoder`, whose `fatal` option decides whether bad UTF-8 throws.
 */
export function shortText(bytes: Uint8Array, from: number, to: number, decoder: TextDecoderLike): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset + from, to - from));
    s += String.fromCharCode(c);
  }
  return s;
}
