import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonCodec, msgpackCodec } from './codec.js';
import { checkJson, checkMessagePack, DEFAULT_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import { ParleyError } from './parley-error.js';

const code = (c: string) => (e: unknown) => e instanceof ParleyError && e.code === c;
const SMALL: DecodeLimits = { maxValues: 100, maxContainers: 10, maxDepth: 4 };

/** An `array32` header announcing `n` elements, followed by `body`. */
function array32(n: number, body: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 0xdd;
  head.writeUInt32BE(n, 1);
  return Buffer.concat([head, body]);
}

describe('decode limits (a body is checked before it is decoded)', () => {
  it('accepts everything the codecs produce (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        checkMessagePack(msgpackCodec.encode(v));
        checkJson(jsonCodec.encode(v));
      }),
      { numRuns: 500 },
    );
    const rich = {
      map: new Map<unknown, unknown>([[1, new Set(['a'])]]),
      date: new Date(),
      big: 2n ** 100n,
      small: 5n,
      bytes: new Uint8Array([1, 2]),
      floats: new Float64Array([1.5]),
      err: new Error('x'),
      re: /a+/g,
      none: [undefined],
    };
    checkMessagePack(msgpackCodec.encode(rich));
  });

  it('a 16 MiB frame of nils in one array is refused before a 16M-element array exists', () => {
    const nils = array32(16 * 1024 * 1024, Buffer.alloc(16 * 1024 * 1024, 0xc0));
    assert.throws(() => msgpackCodec.decode(nils), code('RESOURCE_EXHAUSTED'));
    // Empty maps are 1 byte each and cost an object each: the container bound stops them earlier.
    const maps = array32(1024 * 1024, Buffer.alloc(1024 * 1024, 0x80));
    assert.throws(() => msgpackCodec.decode(maps), code('RESOURCE_EXHAUSTED'));
    const jsonNils = Buffer.from(`[${'null,'.repeat(3_000_000)}null]`);
    assert.throws(() => jsonCodec.decode(jsonNils), code('RESOURCE_EXHAUSTED'));
  });

  it('a header announcing more elements than bytes remain is refused (nothing allocated for it)', () => {
    assert.throws(() => checkMessagePack(array32(0xffffffff, Buffer.from([0xc0]))), code('INVALID_ARGUMENT'));
    assert.throws(() => checkMessagePack(Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])), code('INVALID_ARGUMENT'));
    assert.throws(() => checkMessagePack(Buffer.from([0xc6, 0x7f, 0, 0, 0, 1])), code('INVALID_ARGUMENT'));
  });

  it('counts values, containers and depth exactly at the limits', () => {
    const values = (n: number) => msgpackCodec.encode(new Array(n).fill(null));
    checkMessagePack(values(99), SMALL); // 99 nils + the array = 100 values
    assert.throws(() => checkMessagePack(values(100), SMALL), code('RESOURCE_EXHAUSTED'));
    const containers = (n: number) => msgpackCodec.encode(Array.from({ length: n - 1 }, () => []));
    checkMessagePack(containers(10), SMALL);
    assert.throws(() => checkMessagePack(containers(11), SMALL), code('RESOURCE_EXHAUSTED'));
    const nested = (d: number): unknown => (d === 0 ? 1 : [nested(d - 1)]);
    checkMessagePack(msgpackCodec.encode(nested(4)), SMALL);
    assert.throws(() => checkMessagePack(msgpackCodec.encode(nested(5)), SMALL), code('RESOURCE_EXHAUSTED'));
    checkJson(jsonCodec.encode(nested(4)), SMALL);
    assert.throws(() => checkJson(jsonCodec.encode(nested(5)), SMALL), code('RESOURCE_EXHAUSTED'));
    // Strings may hold structural characters; they do not count.
    checkJson(jsonCodec.encode(['[[[[[,,,,,,{{{{{{', 'a"b\\\\"[[[[[']), SMALL);
  });

  it('deep nesting is refused with a coded error instead of overflowing the stack', () => {
    const deep = Buffer.alloc(100_000, 0x91); // [[[[…
    assert.throws(() => msgpackCodec.decode(deep), code('RESOURCE_EXHAUSTED'));
    assert.throws(() => jsonCodec.decode(Buffer.from('['.repeat(100_000))), code('RESOURCE_EXHAUSTED'));
    assert.equal(DEFAULT_DECODE_LIMITS.maxDepth, 256);
  });

  it('trailing bytes, truncation and never-used bytes are INVALID_ARGUMENT', () => {
    assert.throws(() => msgpackCodec.decode(Buffer.from('910001', 'hex')), code('INVALID_ARGUMENT'));
    assert.throws(() => msgpackCodec.decode(Buffer.from('92c0', 'hex')), code('INVALID_ARGUMENT'));
    assert.throws(() => msgpackCodec.decode(Buffer.from('c1', 'hex')), code('INVALID_ARGUMENT'));
    // A BigInt payload big enough to cost seconds of CPU is refused.
    const huge = Buffer.concat([Buffer.from([0xc9, 0, 1, 0, 0, 0x42]), Buffer.alloc(65536, 0x7f)]);
    assert.throws(() => msgpackCodec.decode(huge), code('RESOURCE_EXHAUSTED'));
  });
});
