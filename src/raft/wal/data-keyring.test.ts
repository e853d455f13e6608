import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ParleyError } from '../../wire/parley-error.js';
import { generateDataKeyLine, parseDataKeyFile, readDataKeyFile, resolveEncryptionAtRest } from './data-keyring.js';
import { withTempDir } from './testing/wal-test-helpers.js';

const b64 = (fill: number, bytes = 32) => Buffer.alloc(bytes, fill).toString('base64');

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err) => ParleyError.is(err, 'INVALID_ARGUMENT') && pattern.test(err.message));

test('key lines: comments and blank lines skipped, the highest id is active', () => {
  const ring = parseDataKeyFile(`# rotated 2026-12\n\n1:${b64(1)}\n 3 : ${b64(3)}\n2:${b64(2)}\n`, 'f');
  assert.equal(ring.active, 3);
  assert.deepEqual(
    ring.keys.map((k) => [k.id, k.key[0]]),
    [
      [1, 1],
      [3, 3],
      [2, 2],
    ],
  );
});

test('JSON keyring: the active key is explicit', () => {
  const ring = parseDataKeyFile(JSON.stringify({ active: 1, keys: { '1': b64(1), '2': b64(2) } }), 'f');
  assert.equal(ring.active, 1);
  assert.equal(ring.keys.length, 2);
  refused(() => parseDataKeyFile(JSON.stringify({ active: 5, keys: { '1': b64(1) } }), 'f'), /active key 5/);
  refused(() => parseDataKeyFile('{"keys": [1]}', 'f'), /expected \{"active"/);
  refused(() => parseDataKeyFile('{oops', 'f'), /not valid JSON/);
});

test('malformed key files are refused naming the problem', () => {
  refused(() => parseDataKeyFile('', 'f'), /holds no key.*keys gen --data-key/);
  refused(() => parseDataKeyFile(`1 ${b64(1)}`, 'f'), /line 1: expected ID:BASE64KEY/);
  refused(() => parseDataKeyFile(`0:${b64(1)}`, 'f'), /key id 0 is not an integer in 1\.\.255/);
  refused(() => parseDataKeyFile(`256:${b64(1)}`, 'f'), /key id 256/);
  refused(() => parseDataKeyFile(`1:${b64(1)}\n1:${b64(2)}`, 'f'), /key id 1 appears twice/);
  refused(() => parseDataKeyFile(`1:${b64(1, 16)}`, 'f'), /key 1 is 16 bytes, expected 32/);
  refused(() => parseDataKeyFile('1:not*base64', 'f'), /key 1 is not base64/);
});

test('generated lines parse back as 32 random bytes under their id', () => {
  const a = parseDataKeyFile(generateDataKeyLine(7), 'f');
  const b = parseDataKeyFile(generateDataKeyLine(7), 'f');
  assert.equal(a.active, 7);
  assert.equal(a.keys[0]!.key.length, 32);
  assert.notDeepEqual(a.keys[0]!.key, b.keys[0]!.key);
  refused(() => generateDataKeyLine(0), /1\.\.255/);
});

test('a key file other users can read is refused; resolveEncryptionAtRest takes one source', () => {
  withTempDir((dir) => {
    const path = join(dir, 'data.keys');
    writeFileSync(path, `1:${b64(1)}\n`);
    chmodSync(path, 0o640);
    assert.throws(
      () => readDataKeyFile(path),
      (err) => ParleyError.is(err, 'PERMISSION_DENIED') && /open to its group.*chmod 600/.test(err.message),
    );
    chmodSync(path, 0o600);
    assert.equal(readDataKeyFile(path).active, 1);
    assert.deepEqual(resolveEncryptionAtRest({ keyFile: path, acceptPlaintext: true }).acceptPlaintext, true);
    refused(() => resolveEncryptionAtRest({}), /exactly one of keyFile and keyring/);
    refused(() => readDataKeyFile(join(dir, 'missing.keys')), /missing\.keys/);
  });
});
