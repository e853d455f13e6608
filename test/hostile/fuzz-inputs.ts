/**
 * What the fuzzer feeds Parley's decoders: hostile values and the bytes a hostile peer can send.
 *
 * Three sources, mixed by `nextInput`:
 * - near-valid packets (a REQUEST tuple, a HELLO, a GOSSIP list, a raft message, a KV command, …)
 *   with fields swapped for hostile values: they get past the first checks of each parser;
 * - hostile values: `__proto__` / `constructor` / `prototype` keys (own, enumerable, as JSON.parse
 *   makes them), deep nesting, huge strings and typed arrays, Maps, BigInts, Dates;
 * - hand-built byte bombs: containers announcing 2^32 elements, nesting 100,000 deep, every
 *   MessagePack extension type (the 0x69/0x70 structured-clone references of CVE-2023-52079,
 *   0x72 records, 0x62 bundles, Parley's own 0x4d Map wrapping a non-array), JSON depth bombs;
 * then byte mutations (bit flips, interesting bytes, splices, truncations, duplications).
 *
 * Invariant: everything is drawn from one Prng, so a seed replays the whole sequence.
 */
import { Packr } from 'msgpackr';
import type { Prng } from '../../src/base/random.js';
import { type Message, type MessageType, newMessage } from '../../src/raft/core/messages.js';
import { encodeWireMessage } from '../../src/raft/core/wire-message.js';
import { MAP_EXTENSION_TYPE } from '../../src/wire/codec.js';

/** What one input is: body bytes and the codec they claim to be in. */
export interface FuzzInput {
  readonly bytes: Uint8Array;
  readonly json: boolean;
  /** How it was made (for the report). */
  readonly source: string;
}

/** The encoder of hostile values: like the node's, but it writes whatever keys an object has. */
const packr = new Packr({ useRecords: false, mapsAsObjects: true, useBigIntExtension: true, moreTypes: true });

export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'length',
];

const STRINGS = [
  '',
  ' ',
  'a',
  '$kv',
  '$raft',
  '$cluster',
  '$node.status',
  'svc.act',
  '127.0.0.1:1',
  'host:99999',
  'OK',
  'x'.repeat(300),
  '\u0000',
  '\ud800',
  'a b',
  '*',
  '>',
  'v',
  'auth',
  'proof',
  'PARLEY-PK-',
  ...HOSTILE_KEYS,
];

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  255,
  256,
  65535,
  2 ** 31 - 1,
  2 ** 32,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  Number.NaN,
  Infinity,
  -Infinity,
];

/** A value of any shape, at most `depth` levels deep. */
export function hostileValue(r: Prng, depth: number): unknown {
  const k = r.int(depth > 0 ? 16 : 9);
  switch (k) {
    case 0:
      return r.pick(STRINGS);
    case 1:
      return r.pick(NUMBERS);
    case 2:
      return r.pick([null, undefined, true, false]);
    case 3:
      return r.range(-1000, 1000);
    case 4:
      return randomString(r, r.int(40));
    case 5:
      return r.chance(0.5) ? BigInt(r.range(-5, 5)) * 2n ** BigInt(r.int(130)) : new Date(r.range(-1e15, 1e15));
    case 6:
      return randomBytes(r, r.chance(0.05) ? r.int(70_000) : r.int(64));
    case 7:
      return r.chance(0.5) ? 'x'.repeat(r.int(70_000)) : new Float64Array(r.int(8));
    case 8:
      return r.pick(HOSTILE_KEYS);
    case 9:
    case 10: {
      const n = r.int(6);
      return Array.from({ length: n }, () => hostileValue(r, depth - 1));
    }
    case 11:
    case 12:
    case 13:
      return hostileObject(r, depth - 1);
    case 14: {
      const m = new Map<unknown, unknown>();
      for (let i = r.int(4); i > 0; i--) m.set(hostileValue(r, 0), hostileValue(r, depth - 1));
      return m;
    }
    default:
      return nested(r.int(40), r.chance(0.5));
  }
}

/** An object whose keys are often hostile, made as JSON.parse makes them: `__proto__` is an own, enumerable key. */
export function hostileObject(r: Prng, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = r.int(5); i > 0; i--) {
    const key = r.chance(0.4) ? r.pick(HOSTILE_KEYS) : r.pick(STRINGS);
    Object.defineProperty(o, key, {
      value: hostileValue(r, depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return o;
}

function nested(levels: number, asObject: boolean): unknown {
  let v: unknown = null;
  for (let i = 0; i < levels; i++) v = asObject ? { a: v } : [v];
  return v;
}

function randomString(r: Prng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.9) ? r.range(0x20, 0x7e) : r.int(0x10000));
  return s;
}

export function randomBytes(r: Prng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const x = r.nextU32();
    b[i] = x;
    b[i + 1] = x >>> 8;
    b[i + 2] = x >>> 16;
    b[i + 3] = x >>> 24;
  }
  return b;
}

/** `base` with some fields replaced by hostile values (or, at times, left valid). */
function perturb(r: Prng, base: unknown): unknown {
  if (r.chance(0.2)) return base;
  if (Array.isArray(base)) {
    const out = base.slice();
    for (let i = r.range(1, 2); i > 0; i--) {
      const at = r.int(out.length + 1);
      out[at] = r.chance(0.5) && out[at] !== undefined ? perturb(r, out[at]) : hostileValue(r, 3);
    }
    return out;
  }
  if (base !== null && typeof base === 'object' && !(base instanceof Uint8Array)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    const keys = Object.keys(out);
    for (let i = r.range(1, 2); i > 0; i--) {
      const key = r.chance(0.3) || keys.length === 0 ? r.pick(HOSTILE_KEYS) : r.pick(keys);
      const value = r.chance(0.5) && out[key] !== undefined ? perturb(r, out[key]) : hostileValue(r, 3);
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return hostileValue(r, 2);
}

const node = (id: string) => ({
  id,
  address: '127.0.0.1:7401',
  incarnation: 'i1',
  version: 1,
  services: [{ name: 'svc', actions: ['act'], events: [{ pattern: 'ev.*', group: 'g' }] }],
  meta: {},
});

const bytesOf = (s: string) => new TextEncoder().encode(s);

/** A raft message in the wire form `$raft.step` carries (wire-message.ts). */
function raftMessage(type: MessageType, fields: Partial<Message>): unknown[] {
  return encodeWireMessage(newMessage({ type, to: 's1', from: 's2', term: 3, ...fields }));
}

/** Valid shapes of every packet body and every command boundary, to perturb. */
const TEMPLATES: readonly (() => unknown)[] = [
  () => ['svc.act', { a: 1 }, { trace: 'x' }, 1000],
  () => ['svc.act', [1, 2], null, 0, { k: 'idem', p: 2 }],
  () => ['ev.x', { a: 1 }, ['g'], 7, null],
  () => [5, 'not found', null, 100],
  () => ({ protocol: 1, codec: 'msgpack', maxFrameSize: 16 * 1024 * 1024, node: node('n1') }),
  () => node('n2'),
  // HELLO auth and AUTH bodies (the handshake before a peer is trusted)
  () => ({
    protocol: 1,
    codec: 'msgpack',
    maxFrameSize: 16 * 1024 * 1024,
    node: node('n3'),
    auth: {
      v: 1,
      nonce: Buffer.alloc(32, 7).toString('base64url'),
      ephemeral: Buffer.alloc(32, 9).toString('base64url'),
      method: 'key',
      publicKey: `PARLEY-PK-${'A'.repeat(58)}`,
      seal: true,
    },
  }),
  () => ({ proof: Buffer.alloc(64, 1).toString('base64url'), token: 'eyJhbGciOiJFZERTQSJ9.e30.sig' }),
  () => ({ code: 'UNAVAILABLE', reason: 'bye' }),
  () => [
    ['n1', '127.0.0.1:1', 'i1'],
    ['n2', '127.0.0.1:2', 'i2'],
  ],
  // raft messages (one-way $raft.step params: a list of them)
  () => [raftMessage('MsgApp', { index: 5, logTerm: 2, commit: 4 })],
  () => [raftMessage('MsgVote', { term: 9, logTerm: 8, index: 20 })],
  () => [raftMessage('MsgApp', { entries: [{ term: 3, index: 6, type: 0, data: bytesOf('x') }] })],
  () => [
    raftMessage('MsgSnap', {
      snapshot: {
        data: bytesOf(''),
        metadata: {
          index: 4,
          term: 2,
          confState: { voters: ['s1'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false },
        },
      },
    }),
  ],
  // $kv commands and params
  () => ({ type: 'put', key: bytesOf('k'), value: bytesOf('v'), lease: 0, prevKv: true }),
  () => ({ type: 'put', key: 'k', value: 'v', clientId: 'c1', seq: 3 }),
  () => ({ type: 'delete', range: { key: 'a', end: 'b' } }),
  () => ({ type: 'range', range: { prefix: 'a/' }, options: { limit: 10, revision: 0 } }),
  () => ({
    type: 'txn',
    compare: [{ key: 'k', target: 'version', result: 'equal', value: 1 }],
    success: [{ type: 'put', key: 'k', value: 'v' }],
    failure: [{ type: 'range', range: { key: 'k' } }],
  }),
  () => ({ type: 'compact', revision: 3 }),
  () => ({ type: 'lease-grant', id: 5, ttlMs: 1000, now: 1 }),
  () => ({ type: 'lease-revoke', id: 5 }),
  // KV auth commands (users, roles, permissions on key ranges)
  () => ({ type: 'user-add', user: 'alice' }),
  () => ({ type: 'user-grant-role', user: 'alice', role: 'r' }),
  () => ({
    type: 'role-grant-permission',
    role: 'r',
    permission: { type: 'readwrite', key: bytesOf('a/'), rangeEnd: bytesOf('a0') },
  }),
  () => ({ type: 'role-revoke-permission', role: 'r', key: bytesOf('a/') }),
  () => ({ type: 'auth-enable' }),
  // $cluster params
  () => ({ id: 's4', address: '127.0.0.1:7404' }),
  () => ({ to: 's2' }),
];

/** A near-valid packet body or command. */
export function templateValue(r: Prng): unknown {
  return perturb(r, r.pick(TEMPLATES)());
}

/** Bytes of `value` in either codec; a value JSON cannot hold becomes `null`. */
export function encode(value: unknown, json: boolean): Uint8Array {
  if (!json) return packr.pack(value);
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
  } catch {
    text = undefined;
  }
  return new TextEncoder().encode(text ?? 'null');
}

const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** Byte strings built to hurt a MessagePack or JSON decoder. */
export function bomb(r: Prng): FuzzInput {
  const kind = r.int(12);
  const deep = r.pick([300, 5000, 100_000]);
  switch (kind) {
    case 0: // array / map announcing 2^32 - 1 elements
      return msg([r.pick([0xdd, 0xdf]), ...u32(r.pick([0xffffffff, 0x7fffffff, 65536]))], 'bomb:huge-declared-size');
    case 1: // str / bin announcing 4 GiB
      return msg([r.pick([0xdb, 0xc6]), 0xff, 0xff, 0xff, 0xf0, 0x61], 'bomb:huge-string');
    case 2: // arrays nested `deep` levels
      return {
        bytes: cached(`a${deep}`, () => new Uint8Array(deep + 1).fill(0x91, 0, deep).fill(0xc0, deep)),
        json: false,
        source: 'bomb:depth',
      };
    case 3: // maps nested `deep` levels
      return { bytes: cached(`m${deep}`, () => nestedMaps(deep)), json: false, source: 'bomb:map-depth' };
    case 4: {
      // JSON depth
      const closed = r.chance(0.5);
      return {
        bytes: cached(`j${deep}${closed}`, () =>
          new TextEncoder().encode('['.repeat(deep) + ']'.repeat(closed ? deep : 0)),
        ),
        json: true,
        source: 'bomb:json-depth',
      };
    }
    case 5: {
      // every extension type, with a fixext1..16 or ext8 header, and a random payload
      const type = r.chance(0.5)
        ? r.pick([0x69, 0x70, 0x72, 0x62, 0x4d, 0x73, 0x65, 0x78, 0x74, 0x42, 0xff, 0x00])
        : r.int(256);
      const head = r.pick([0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7]);
      const payload = Array.from(randomBytes(r, r.int(20)));
      const bytes = head === 0xc7 ? [0xc7, payload.length, type, ...payload] : [head, type, ...payload];
      return msg(bytes, `bomb:ext-0x${type.toString(16)}`);
    }
    case 6: // CVE-2023-52079: a structured-clone id (0x69) wrapping pointers (0x70) to itself, repeated
      return msg(
        [0xd6, 0x69, 0, 0, 0, 1, 0x92, ...Array.from({ length: 2 }, () => [0xd6, 0x70, 0, 0, 0, 1]).flat()],
        'bomb:ext-0x70-recursion',
      );
    case 7: {
      // Parley's Map extension wrapping an object with a huge `length` (a CPU bomb if trusted)
      const inner = packr.pack({ length: r.pick([2 ** 31, 2 ** 32 - 1, 1e15]) });
      return msg([0xd4, MAP_EXTENSION_TYPE, 0x00, ...inner], 'bomb:map-ext-length');
    }
    case 8: // a record definition (0x72) followed by records
      return msg([0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61, 0x40, 0x01], 'bomb:record');
    case 9: // JSON with hostile keys
      return {
        bytes: new TextEncoder().encode(
          r.pick([
            '{"__proto__":{"polluted":1}}',
            '{"constructor":{"prototype":{"polluted":1}}}',
            '["svc.act",{"__proto__":{"polluted":1}},{"__proto__":null},0]',
            '{"protocol":1,"codec":"json","maxFrameSize":1,"node":{"__proto__":{"id":"x"}}}',
          ]),
        ),
        json: true,
        source: 'bomb:json-proto',
      };
    case 10: // many empty containers (each 1 byte, ~60 bytes decoded)
      return {
        bytes: r.chance(0.5) ? MANY_EMPTY_MAPS : MANY_EMPTY_ARRAYS,
        json: false,
        source: 'bomb:many-containers',
      };
    default: {
      // a BigInt extension payload of 64 KiB
      const b = new Uint8Array(4 + 0xffff);
      b.set([0xc8, 0xff, 0xff, 0x42]);
      b.set(randomBytes(r, 64), 4);
      return { bytes: b, json: false, source: 'bomb:bigint' };
    }
  }
}

function manyEmpty(byte: number): Uint8Array {
  const b = new Uint8Array(5 + 60_000).fill(byte);
  b.set([0xdd, ...u32(60_000)]);
  return b;
}
const MANY_EMPTY_MAPS = manyEmpty(0x80);
const MANY_EMPTY_ARRAYS = manyEmpty(0x90);

const bombs = new Map<string, Uint8Array>();
/** Big bombs are built once: the fuzzer measures the decoders, not its own generator. */
function cached(key: string, make: () => Uint8Array): Uint8Array {
  let b = bombs.get(key);
  if (b === undefined) bombs.set(key, (b = make()));
  return b;
}

function nestedMaps(levels: number): Uint8Array {
  const b = new Uint8Array(levels * 3 + 1);
  for (let i = 0; i < levels; i++) b.set([0x81, 0xa1, 0x61], i * 3);
  b[levels * 3] = 0xc0;
  return b;
}

const msg = (bytes: number[], source: string): FuzzInput => ({ bytes: Uint8Array.from(bytes), json: false, source });

/** Bytes that are interesting to write over others: type bytes of big containers, lengths, extremes. */
const INTERESTING = [
  0x00, 0x7f, 0x80, 0xff, 0xc1, 0xc7, 0xc9, 0xd4, 0xd8, 0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0xc6, 0x5b, 0x7b, 0x22,
];

/** `bytes` changed in 1–4 places. Returns a new array. */
export function mutate(r: Prng, bytes: Uint8Array): Uint8Array {
  let b: Uint8Array = Uint8Array.from(bytes);
  for (let n = r.range(1, 4); n > 0; n--) {
    const at = b.length === 0 ? 0 : r.int(b.length);
    switch (r.int(7)) {
      case 0: // bit flip
        if (b.length > 0) b[at] = b[at]! ^ (1 << r.int(8));
        break;
      case 1: // interesting byte
        if (b.length > 0) b[at] = r.pick(INTERESTING);
        break;
      case 2: // truncate
        b = b.subarray(0, at);
        break;
      case 3: {
        // insert a 32-bit length of 0xffffffff or another lie
        const lie = Uint8Array.from(u32(r.pick([0xffffffff, 0x7fffffff, 0x10000, b.length * 2])));
        b = concat(b.subarray(0, at), lie, b.subarray(at));
        break;
      }
      case 4: {
        // duplicate a slice
        const end = Math.min(b.length, at + r.range(1, 64));
        b = concat(b.subarray(0, end), b.subarray(at, end), b.subarray(end));
        break;
      }
      case 5: // random bytes inserted
        b = concat(b.subarray(0, at), randomBytes(r, r.range(1, 8)), b.subarray(at));
        break;
      default: // delete a slice
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + r.range(1, 16))));
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One input: a template, a hostile value, a bomb or random bytes, mutated half of the time. */
export function nextInput(r: Prng): FuzzInput {
  const json = r.chance(0.25);
  const pick = r.int(20);
  let input: FuzzInput;
  if (pick < 10) input = { bytes: encode(templateValue(r), json), json, source: 'template' };
  else if (pick < 16) input = { bytes: encode(hostileValue(r, 4), json), json, source: 'value' };
  else if (pick < 18) input = bomb(r);
  else input = { bytes: randomBytes(r, r.int(48)), json, source: 'random' };
  return r.chance(0.5) ? { ...input, bytes: mutate(r, input.bytes), source: `${input.source}+mutated` } : input;
}
