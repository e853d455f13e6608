import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from './crc32c.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test('crc32c matches the standard check value and the RFC 3720 (iSCSI) vectors', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  assert.equal(crc32c(ascii('a')), 0xc1d04330);
  assert.equal(crc32c(ascii('The quick brown fox jumps over the lazy dog')), 0x22620404);
});

/** Bit-at-a-time reference: the definition, with no tables. */
function reference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test('crc32c equals the bitwise definition and chains across splits', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const whole = crc32c(bytes);
      assert.equal(whole, reference(bytes));
      const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
      assert.equal(crc32c(bytes, crc32c(bytes, 0, 0, at), at, bytes.length), whole);
      assert.equal(crc32c(bytes.subarray(at), crc32c(bytes.subarray(0, at))), whole);
    }),
    { seed: 42, numRuns: 300 },
  );
});
