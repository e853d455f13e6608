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

/**
 * The walk behind checkMessagePack. It runs on every body received, so one instance is reused and
 * nothing is allocated per check (closures and a growing array per call had made decoding about
 * 60 % slower); it calls nothing that could re-enter it.
 */
class MessagePackCheck {
  private src: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  private values = 0;
  private containers = 0;
  /** stack[0 .. depth) = values still expected in each open container (index 0 = the top level). */
  private stack = new Float64Array(DEFAULT_DECODE_LIMITS.maxDepth + 2);
  private depth = 0;
  private limits: DecodeLimits = DEFAULT_DECODE_LIMITS;

  run(bytes: Uint8Array, limits: DecodeLimits): void {
    this.src = bytes;
    this.pos = 0;
    this.end = bytes.length;
    this.values = 0;
    this.containers = 0;
    this.limits = limits;
    if (this.stack.length < limits.maxDepth + 2) this.stack = new Float64Array(limits.maxDepth + 2);
    this.stack[0] = 1;
    this.depth = 1;
    try {
      this.scan();
    } finally {
      this.src = EMPTY;
    }
  }

  private need(n: number): void {
    if (n > this.end - this.pos) malformed('MessagePack', `truncated at byte ${this.pos}`);
  }

  private u16(): number {
    this.need(2);
    const src = this.src;
    const pos = this.pos;
    this.pos = pos + 2;
    return (src[pos]! << 8) | src[pos + 1]!;
  }

  private u32(): number {
    this.need(4);
    const src = this.src;
    const pos = this.pos;
    this.pos = pos + 4;
    return ((src[pos]! << 24) | (src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!) >>> 0;
  }

  private skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  private open(children: number): void {
    const limits = this.limits;
    if (++this.containers > limits.maxContainers) tooMuch('arrays and maps', limits.maxContainers);
    // Every child takes at least one byte: a header announcing more is a lie, refused before allocation.
    if (children > this.end - this.pos)
      malformed('MessagePack', `a container announces ${children} elements in ${this.end - this.pos} bytes`);
    if (children === 0) return;
    if (this.depth > limits.maxDepth) tooMuch('levels of nesting', limits.maxDepth);
    this.stack[this.depth++] = children;
  }

  private ext(type: number, length: number, fixext1: boolean): void {
    if (fixext1 && (type === EXT_UNDEFINED || EXT_VALUE_FOLLOWS.has(type))) {
      this.skip(1); // filler
      if (type !== EXT_UNDEFINED) this.open(1);
      return;
    }
    if (!EXT_PAYLOAD.has(type)) malformed('MessagePack', `unsupported extension type ${type}`);
    if (type === 0x42 && length > MAX_BIGINT_PAYLOAD) tooMuch('BigInt bytes', MAX_BIGINT_PAYLOAD);
    this.skip(length);
  }

  private scan(): void {
    const src = this.src;
    const stack = this.stack;
    const maxValues = this.limits.maxValues;
    while (this.depth > 0) {
      const top = this.depth - 1;
      if (stack[top] === 0) {
        this.depth = top;
        continue;
      }
      stack[top]!--;
      if (++this.values > maxValues) tooMuch('values', maxValues);
      this.need(1);
      const b = src[this.pos++]!;
      if (b <= 0x7f || b >= 0xe0) continue; // fixint
      if (b <= 0x8f) this.open(2 * (b & 0x0f));
      else if (b <= 0x9f) this.open(b & 0x0f);
      else if (b <= 0xbf) this.skip(b & 0x1f);
      else this.typed(b);
    }
    if (this.pos !== this.end) malformed('MessagePack', `${this.end - this.pos} bytes after the value`);
  }

  /** A value whose first byte `b` is 0xc0–0xdf. */
  private typed(b: number): void {
    const src = this.src;
    switch (b) {
      case 0xc0: // nil
      case 0xc2: // false
      case 0xc3: // true
        return;
      case 0xc4: // bin 8
      case 0xd9: // str 8
        this.need(1);
        this.skip(src[this.pos++]!);
        return;
      case 0xc5: // bin 16
      case 0xda: // str 16
        this.skip(this.u16());
        return;
      case 0xc6: // bin 32
      case 0xdb: // str 32
        this.skip(this.u32());
        return;
      case 0xc7: {
        this.need(2);
        const length = src[this.pos]!;
        const type = src[this.pos + 1]!;
        this.pos += 2;
        this.ext(type, length, false);
        return;
      }
      case 0xc8: {
        const length = this.u16();
        this.need(1);
        this.ext(src[this.pos++]!, length, false);
        return;
      }
      case 0xc9: {
        const length = this.u32();
        this.need(1);
        this.ext(src[this.pos++]!, length, false);
        return;
      }
      case 0xca: // float 32
        this.skip(4);
        return;
      case 0xcb: // float 64
        this.skip(8);
        return;
      case 0xcc:
      case 0xd0:
        this.skip(1);
        return;
      case 0xcd:
      case 0xd1:
        this.skip(2);
        return;
      case 0xce:
      case 0xd2:
        this.skip(4);
        return;
      case 0xcf:
      case 0xd3:
        this.skip(8);
        return;
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8: {
        this.need(1);
        const type = src[this.pos++]!;
        this.ext(type, 1 << (b - 0xd4), b === 0xd4);
        return;
      }
      case 0xdc: // array 16
        this.open(this.u16());
        return;
      case 0xdd: // array 32
        this.open(this.u32());
        return;
      case 0xde: // map 16
        this.open(2 * this.u16());
        return;
      case 0xdf: // map 32
        this.open(2 * this.u32());
        return;
      default: // 0xc1: never used
        malformed('MessagePack', `byte 0x${b.toString(16)} at ${this.pos - 1} is not a type`);
    }
  }
}

const EMPTY = new Uint8Array(0);
const check = new MessagePackCheck();

/** Throws unless `bytes` is exactly one MessagePack value within `limits`. Allocates nothing. */
export function checkMessagePack(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): void {
  check.run(bytes, limits);
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
