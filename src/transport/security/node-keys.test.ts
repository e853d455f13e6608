import assert from 'node:assert/strict';
import { sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { ParleyError } from '../../wire/parley-error.js';
import {
  base32,
  canonicalPublicKey,
  generateNodeKeys,
  PUBLIC_KEY_PREFIX,
  parsePublicKey,
  parseSecretKey,
  SECRET_KEY_PREFIX,
  unbase32,
} from './node-keys.js';

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => ParleyError.is(err, 'INVALID_ARGUMENT') && pattern.test((err as Error).message));

describe('node keys', () => {
  it('base32 follows RFC 4648 (test vectors, no padding) and round-trips', () => {
    assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI');
    assert.equal(base32(Buffer.from('fo')), 'MZXQ');
    assert.deepEqual(unbase32('MZXW6YTBOI'), Buffer.from('foobar'));
    assert.equal(unbase32('MZXW6YTBO1'), undefined, '1 is not in the alphabet');
    assert.equal(unbase32('MZXR'), undefined, 'non-zero trailing bits');
  });

  it('a generated pair signs and verifies, and the secret key gives back its public key', () => {
    const { secretKey, publicKey } = generateNodeKeys();
    assert.ok(secretKey.startsWith(SECRET_KEY_PREFIX));
    assert.ok(publicKey.startsWith(PUBLIC_KEY_PREFIX));
    const pair = parseSecretKey(secretKey);
    assert.equal(pair.publicKey, publicKey);
    const signature = sign(null, Buffer.from('hello'), pair.privateKey);
    assert.ok(verify(null, Buffer.from('hello'), parsePublicKey(publicKey), signature));
    assert.notEqual(generateNodeKeys().publicKey, publicKey);
  });

  it('catches a typo, a truncation, a swapped prefix and garbage with a clear error', () => {
    const { secretKey, publicKey } = generateNodeKeys();
    const body = publicKey.slice(PUBLIC_KEY_PREFIX.length);
    const flipped = body[5] === 'A' ? 'B' : 'A';
    refused(() => parsePublicKey(`${PUBLIC_KEY_PREFIX}${body.slice(0, 5)}${flipped}${body.slice(6)}`), /checksum/);
    refused(() => parsePublicKey(publicKey.slice(0, -3)), /base32 characters/);
    refused(() => parsePublicKey(secretKey), /secret key/);
    refused(() => parseSecretKey(publicKey), /public key/);
    refused(() => parsePublicKey('ssh-ed25519 AAAA'), /must start with 'PARLEY-PK-'/);
    // The same raw bytes under the other prefix fail the checksum: the prefix is part of it.
    refused(() => parsePublicKey(`${PUBLIC_KEY_PREFIX}${secretKey.slice(SECRET_KEY_PREFIX.length)}`), /checksum/);
  });

  it('an error about a secret key never repeats it', () => {
    const { secretKey } = generateNodeKeys();
    const typo = `${secretKey.slice(0, -1)}${secretKey.endsWith('A') ? 'B' : 'A'}`;
    try {
      parseSecretKey(typo);
      assert.fail('a typo was accepted');
    } catch (err) {
      assert.ok(!(err as Error).message.includes(typo.slice(SECRET_KEY_PREFIX.length, SECRET_KEY_PREFIX.length + 8)));
    }
  });

  it('canonicalPublicKey tolerates surrounding whitespace only', () => {
    const { publicKey } = generateNodeKeys();
    assert.equal(canonicalPublicKey(` ${publicKey}\n`), publicKey);
    refused(() => canonicalPublicKey(publicKey.toLowerCase()), /must start/);
  });
});
