import { ParleyError } from './parley-error.js';

/**
 * Bounds on what one received body may expand into when decoded, checked by walking the encoded
 * bytes BEFORE the real decoder allocates anything (as FrameDecoder validates a length before it
 * buffers a body).
 *
 * Why: a body is small on the wire but its decoded form is not. A MessagePack nil is one byte and
 * becomes an 8-byte array slot; an empty map is one byte and becomes a ~60-byte object; a 5-byte
 * `array32` header announces 4 billion elements. A 16 MiB frame of nils in one array decodes into a
 * 16M-element array. With these limits the worst case of one frame is about
 * 20 bytes × maxValues + 64 bytes × maxContainers (~58 MiB at the defaults), whatever its size.
 *
 * Invariants:
 * - a body that passes never makes the decoder recurse deeper than `maxDepth`;
 * - no container may announce more elements than bytes remain (each element takes ≥ 1 byte), so a
 *   lying header is refused before anything is allocated for it;
 * - every refusal is a ParleyError: RESOURCE_EXHAUSTED past a limit, INVALID_ARGUMENT when malformed.
 */
export interface DecodeLimits {
  /** Values of any kind, containers included (default 2,097,152). */
  readonly maxValues: number;
  /** Arrays, maps/objects and Map/Set extensions (default 262,144). */
  readonly maxContainers: number;
  /** Nesting of containers (default 256). */
  readonly maxDepth: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxValues: 2 ** 21,
  maxContainers: 2 ** 18,
  maxDepth: 256,
});

/**
 * The msgpackr extensions Parley reads (docs/PROTOCOL.md). "Value follows" ones are a fixext1
 * header (type, one filler byte) followed by one ordinary value; the others carry their payload.
 * Everything else (records 0x72, structured-clone references 0x69/0x70, bundled strings 0x62, …)
 * is refused: those let a body address state outside itself.
 */
const EXT_UNDEFINED = 0x00;
const EXT_VALUE_FOLLOWS = new Set([0x4d /* Map */, 0x73 /* Set */, 0x65 /* Error */, 0x78 /* RegExp */]);
const EXT_PAYLOAD = new Set([0x42 /* BigInt */, 0x74 /* typed array */, 0xff /* timestamp */]);
/** A BigInt payload larger than this (8,192 bits) is refused: converting it costs CPU out of proportion. */
const MAX_BIGINT_PAYLOAD = 1024;

function tooMuch(what: string, limit: number): never {
  throw new ParleyError(
    'RESOURCE_EXHAUSTED',
    `message body decodes into more than ${limit} ${what}; send less data per message`,
  );
}

function malformed(codec: string, why: string): never {
  throw new ParleyError('INVALID_ARGUMENT', `malformed ${codec} body: ${why}`);
}

/** Throws unless `bytes` is exactly one MessagePack value within `limits`. Allocates O(depth). */
export function checkMessagePack(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): void {
  const end = bytes.length;
  // remaining[d] = values still expected in the container open at depth d (depth 0 = the top level).
  const remaining: number[] = [1];
  let pos = 0;
  let values = 0;
  let containers = 0;

  const need = (n: number): void => {
    if (n > end - pos) malformed('MessagePack', `truncated at byte ${pos}`);
  };
  const u16 = (): number => {
    need(2);
    const v = (bytes[pos]! << 8) | bytes[pos + 1]!;
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0;
    pos += 4;
    return v;
  };
  const skip = (n: number): void => {
    need(n);
    pos += n;
  };
  const open = (children: number): void => {
    if (++containers > limits.maxContainers) tooMuch('arrays and maps', limits.maxContainers);
    // Every child takes at least one byte: a header announcing more is a lie, refused before allocation.
    if (children > end - pos)
      malformed('MessagePack', `a container announces ${children} elements in ${end - pos} bytes`);
    if (children === 0) return;
    if (remaining.length > limits.maxDepth) tooMuch('levels of nesting', limits.maxDepth);
    remaining.push(children);
  };
  const ext = (type: number, length: number, fixext1: boolean): void => {
    if (fixext1 && (type === EXT_UNDEFINED || EXT_VALUE_FOLLOWS.has(type))) {
      skip(1); // filler
      if (type !== EXT_UNDEFINED) open(1);
      return;
    }
    if (!EXT_PAYLOAD.has(type)) malformed('MessagePack', `unsupported extension type ${type}`);
    if (type === 0x42 && length > MAX_BIGINT_PAYLOAD) tooMuch('BigInt bytes', MAX_BIGINT_PAYLOAD);
    skip(length);
  };

  while (remaining.length > 0) {
    const top = remaining.length - 1;
    if (remaining[top] === 0) {
      remaining.pop();
      continue;
    }
    remaining[top]!--;
    if (++values > limits.maxValues) tooMuch('values', limits.maxValues);
    need(1);
    const b = bytes[pos++]!;
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) open(2 * (b & 0x0f));
    else if (b <= 0x9f) open(b & 0x0f);
    else if (b <= 0xbf) skip(b & 0x1f);
    else
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          break;
        case 0xc4: // bin 8
        case 0xd9: // str 8
          need(1);
          skip(bytes[pos++]!);
          break;
        case 0xc5: // bin 16
        case 0xda: // str 16
          skip(u16());
          break;
        case 0xc6: // bin 32
        case 0xdb: // str 32
          skip(u32());
          break;
        case 0xc7: {
          need(2);
          const length = bytes[pos]!;
          const type = bytes[pos + 1]!;
          pos += 2;
          ext(type, length, false);
          break;
        }
        case 0xc8: {
          const length = u16();
          need(1);
          ext(bytes[pos++]!, length, false);
          break;
        }
        case 0xc9: {
          const length = u32();
          need(1);
          ext(bytes[pos++]!, length, false);
          break;
        }
        case 0xca: // float 32
          skip(4);
          break;
        case 0xcb: // float 64
          skip(8);
          break;
        case 0xcc:
        case 0xd0:
          skip(1);
          break;
        case 0xcd:
        case 0xd1:
          skip(2);
          break;
        case 0xce:
        case 0xd2:
          skip(4);
          break;
        case 0xcf:
        case 0xd3:
          skip(8);
          break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          need(1);
          const type = bytes[pos++]!;
          ext(type, 1 << (b - 0xd4), b === 0xd4);
          break;
        }
        case 0xdc: // array 16
          open(u16());
          break;
        case 0xdd: // array 32
          open(u32());
          break;
        case 0xde: // map 16
          open(2 * u16());
          break;
        case 0xdf: // map 32
          open(2 * u32());
          break;
        default: // 0xc1: never used
          malformed('MessagePack', `byte 0x${b.toString(16)} at ${pos - 1} is not a type`);
      }
  }
  if (pos !== end) malformed('MessagePack', `${end - pos} bytes after the value`);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Throws when a JSON body would exceed `limits`. Counts structure outside strings only (values ≈
 * commas + containers + 1); syntax is left to JSON.parse. Structural characters are ASCII and never
 * occur inside a multi-byte UTF-8 sequence, so scanning bytes is exact.
 */
export function checkJson(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): void {
  let values = 1;
  let containers = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === COMMA) {
      if (++values > limits.maxValues) tooMuch('values', limits.maxValues);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++containers > limits.maxContainers) tooMuch('arrays and objects', limits.maxContainers);
      if (++depth > limits.maxDepth) tooMuch('levels of nesting', limits.maxDepth);
      if (++values > limits.maxValues) tooMuch('values', limits.maxValues);
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
}
