import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { codecByName, codecForFlags, jsonCodec, msgpackCodec } from './codec.js';
import { FrameFlag } from './frame.js';
import { ParleyError } from './parley-error.js';

describe('msgpack codec', () => {
  it('round-trips Buffer, Uint8Array, Date, BigInt and Map', () => {
    const value = {
      buf: Buffer.from([1, 2, 3]),
      bytes: new Uint8Array([4, 5]),
      date: new Date('2026-01-02T03:04:05.678Z'),
      small: 42n,
      negative: -7n,
      huge: 2n ** 100n,
      map: new Map<unknown, unknown>([
        [1, 'one'],
        ['k', { nested: new Map([['x', [new Date(0)]]]) }],
      ]),
      list: [new Map([[true, null]])],
      plain: { a: 1, b: 'two', c: [1.5, null, false] },
    };
    const out = msgpackCodec.decode(msgpackCodec.encode(value)) as typeof value;
    assert.deepEqual([...out.buf], [1, 2, 3]);
    assert.ok(out.bytes instanceof Uint8Array);
    assert.deepEqual([...out.bytes], [4, 5]);
    assert.ok(out.date instanceof Date);
    assert.equal(out.date.toISOString(), value.date.toISOString());
    assert.equal(out.small, 42n);
    assert.equal(out.negative, -7n);
    assert.equal(out.huge, 2n ** 100n);
    assert.ok(out.map instanceof Map);
    assert.equal(out.map.get(1), 'one');
    const nested = (out.map.get('k') as { nested: Map<string, Date[]> }).nested;
    assert.ok(nested instanceof Map);
    assert.ok(nested.get('x')![0] instanceof Date);
    assert.ok(out.list[0] instanceof Map);
    assert.deepEqual(out.plain, value.plain);
    assert.equal(Object.getPrototypeOf(out.plain), Object.prototype);
  });

  it('round-trips arbitrary JSON-like values (property)', () => {
    fc.assert(
      // '__proto__' keys are renamed by the decoder (tested below), so they do not round-trip.
      fc.property(
        fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"')),
        (v) => {
          // Like JSON, MessagePack has no negative zero for integers: -0 arrives as 0.
          assert.deepEqual(msgpackCodec.decode(msgpackCodec.encode(v)), JSON.parse(JSON.stringify(v)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes decode or are refused with a coded ParleyError, never anything else', () => {
    const refusal = (codec: typeof msgpackCodec, bytes: Uint8Array): void => {
      try {
        codec.decode(bytes);
      } catch (e) {
        assert.ok(e instanceof ParleyError, `${codec.name} threw ${(e as Error)?.constructor?.name}: ${e}`);
        assert.ok(
          e.code === 'INVALID_ARGUMENT' || e.code === 'RESOURCE_EXHAUSTED',
          `${codec.name}: code ${e.code}: ${e.message}`,
        );
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => refusal(msgpackCodec, bytes)),
      { numRuns: 2000 },
    );
    // Structured noise: valid prefixes with damaged tails reach deeper into the decoder.
    const valid = msgpackCodec.encode({ a: [1, 'two', new Map([[3, new Date(0)]]), 2n ** 80n, new Set([1])] });
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.uint8Array({ maxLength: 16 }), (cut, tail) => {
        refusal(msgpackCodec, Buffer.concat([valid.subarray(0, cut), tail]));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => refusal(jsonCodec, bytes)),
      { numRuns: 500 },
    );
  });

  it('refuses the extensions that reach outside the body (records, references, bundles)', () => {
    for (const hex of ['d57200', 'd4700000000000', 'd56900', 'd4620000', 'c70199aa']) {
      assert.throws(
        () => msgpackCodec.decode(Buffer.from(hex, 'hex')),
        (e: unknown) => e instanceof ParleyError && e.code === 'INVALID_ARGUMENT',
        hex,
      );
    }
  });
});

describe('json codec', () => {
  it('round-trips JSON values and flags itself', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assert.deepEqual(jsonCodec.decode(jsonCodec.encode(v)), JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 200 },
    );
    assert.equal(codecForFlags(FrameFlag.JSON), jsonCodec);
    assert.equal(codecForFlags(0), msgpackCodec);
  });

  it('rejects invalid UTF-8 and names unknown codecs', () => {
    assert.throws(
      () => jsonCodec.decode(new Uint8Array([0xff, 0xfe])),
      (e: unknown) => e instanceof ParleyError && e.code === 'INVALID_ARGUMENT',
    );
    assert.throws(() => codecByName('xml' as 'json'), /unknown codec 'xml'/);
  });
});

describe('msgpack codec edge values', () => {
  it('a peer cannot pollute prototypes with a __proto__ key (either codec)', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    for (const codec of [msgpackCodec, jsonCodec]) {
      const out = codec.decode(codec.encode(hostile)) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(out), Object.prototype, codec.name);
      assert.equal((out as { polluted?: unknown }).polluted, undefined, codec.name);
      assert.equal(({} as { polluted?: unknown }).polluted, undefined, codec.name);
      assert.equal(out.a, 1);
    }
  });

  it('sends -0 as 0 (as JSON does)', () => {
    assert.ok(Object.is(msgpackCodec.decode(msgpackCodec.encode(-0)), 0));
  });
});
