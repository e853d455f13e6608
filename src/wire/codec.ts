import { addExtension, Packr } from 'msgpackr';
import { checkJson, checkMessagePack } from './decode-limits.js';
import { FrameFlag } from './frame.js';
import { ParleyError } from './parley-error.js';

/**
 * A body codec. Encoding is chosen per node; every frame says which codec its body uses
 * (FrameFlag.JSON), so a node decodes whatever its peers send.
 */
export interface Codec {
  readonly name: CodecName;
  /** The frame flag bits that announce this codec. */
  readonly flag: number;
  encode(value: unknown): Uint8Array;
  /**
   * Decodes bytes a peer sent. Checks them against DEFAULT_DECODE_LIMITS (decode-limits.ts) before
   * the decoder allocates anything. Throws only ParleyError: INVALID_ARGUMENT when the bytes are
   * not one well-formed value, RESOURCE_EXHAUSTED when they would decode into too much.
   */
  decode(bytes: Uint8Array): unknown;
}

export type CodecName = 'msgpack' | 'json';

/** MessagePack extension type that carries a JS Map as a flat [k1, v1, k2, v2, ...] array. */
export const MAP_EXTENSION_TYPE = 0x4d;

/**
 * msgpackr writes every Map as a plain MessagePack map, which decodes as an object. To make
 * Map round-trip we wrap Maps (found by a cheap pre-scan) in MapBox, which has an extension.
 */
class MapBox {
  constructor(readonly entries: unknown[]) {}
}
addExtension({
  Class: MapBox,
  type: MAP_EXTENSION_TYPE,
  write: (box: MapBox) => box.entries,
  read: (flat: unknown) => {
    // Only an array is a Map's entries: an object with a `length` of 2^31 would be a CPU bomb
    // (the loop below runs `length / 2` times whatever the body holds). Found by `npm run fuzz`.
    if (!Array.isArray(flat))
      throw new ParleyError('INVALID_ARGUMENT', 'malformed MessagePack body: a Map extension must wrap an array');
    const map = new Map();
    for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
    return map;
  },
});

/**
 * Whether `value` holds a Map anywhere within 64 levels (plain objects and arrays are searched,
 * other class instances are not). It runs on every message encoded, so it tests the common
 * shapes first and never calls itself for a primitive.
 */
function containsMap(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > 64) return false;
  const kind = value.constructor;
  if (kind === Object) {
    for (const k in value) {
      const v = (value as Record<string, unknown>)[k];
      if (typeof v === 'object' && v !== null && containsMap(v, depth + 1)) return true;
    }
    return false;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === 'object' && v !== null && containsMap(v, depth + 1)) return true;
    }
    return false;
  }
  return value instanceof Map;
}

function boxMaps(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Map) {
    const flat: unknown[] = [];
    for (const [k, v] of value) flat.push(boxMaps(k), boxMaps(v));
    return new MapBox(flat);
  }
  if (Array.isArray(value)) return value.map(boxMaps);
  if (value.constructor !== Object) return value;
  const out: Record<string, unknown> = {};
  for (const k in value) out[k] = boxMaps((value as Record<string, unknown>)[k]);
  return out;
}

// copyBuffers: a decoded binary field is a copy, never a view of the frame body, which may lie in
// a receive buffer the transport reuses for its next read (transport/direct-read.ts).
const packr = new Packr({
  copyBuffers: true,
  useRecords: false,
  mapsAsObjects: true,
  useBigIntExtension: true,
  int64AsType: 'bigint',
  moreTypes: true,
});

export const msgpackCodec: Codec = {
  name: 'msgpack',
  flag: 0,
  encode(value) {
    return packr.pack(containsMap(value, 0) ? boxMaps(value) : value);
  },
  decode(bytes) {
    if (bytes.length === 0) return undefined;
    checkMessagePack(bytes);
    try {
      return packr.unpack(bytes);
    } catch (err) {
      throw decodeError('MessagePack', err);
    }
  },
};

/** What a decoder threw on bad input, as INVALID_ARGUMENT (a ParleyError passes through). */
function decodeError(codec: string, err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  return new ParleyError('INVALID_ARGUMENT', `malformed ${codec} body: ${(err as Error).message}`, { cause: err });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export const jsonCodec: Codec = {
  name: 'json',
  flag: FrameFlag.JSON,
  encode(value) {
    return Buffer.from(JSON.stringify(value ?? null), 'utf8');
  },
  decode(bytes) {
    if (bytes.length === 0) return undefined;
    checkJson(bytes);
    try {
      return JSON.parse(utf8.decode(bytes));
    } catch (err) {
      throw decodeError('JSON', err);
    }
  },
};

export function codecByName(name: CodecName): Codec {
  if (name === 'msgpack') return msgpackCodec;
  if (name === 'json') return jsonCodec;
  throw new TypeError(`unknown codec '${name as string}': use 'msgpack' or 'json'`);
}

/** The codec a received frame's body was encoded with. */
export function codecForFlags(flags: number): Codec {
  return flags & FrameFlag.JSON ? jsonCodec : msgpackCodec;
}
