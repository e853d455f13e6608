/**
 * The crypto part of the security benchmark runs whole at CI size (`--quick`, made smaller still here): every
 * section prints its table with a number in every cell, so the benchmark cannot rot between quiet-machine runs.
 * Nothing here judges speed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCryptoArgs } from './security.js';
import { DEFAULT_CRYPTO_OPTIONS, QUICK_CRYPTO_OPTIONS, runCryptoBench } from './security-crypto.js';

describe('security benchmark, crypto part', () => {
  it('--quick picks the CI-sized run; --rounds and --cell-ms override either', () => {
    assert.deepEqual(parseCryptoArgs([]), DEFAULT_CRYPTO_OPTIONS);
    assert.deepEqual(parseCryptoArgs(['--quick']), QUICK_CRYPTO_OPTIONS);
    assert.deepEqual(parseCryptoArgs(['--rounds', '2', '--quick', '--cell-ms', '50']), {
      ...QUICK_CRYPTO_OPTIONS,
      rounds: 2,
      cellMs: 50,
    });
    assert.throws(() => parseCryptoArgs(['--sizes', '64']), /unknown option '--sizes'/);
  });

  it('prints every section, with a row per size and algorithm and no missing number', async () => {
    const printed: string[] = [];
    const progress: string[] = [];
    await runCryptoBench({
      cellMs: 10,
      rounds: 1,
      sizes: [64],
      print: (text) => printed.push(text),
      progress: (line) => progress.push(line),
    });
    const out = printed.join('\n');
    for (const heading of ['1. Per message', '2. SealedConnection', '3. Handshake crypto', '4. Where one 64 B']) {
      assert.match(out, new RegExp(heading.replace('.', '\\.')));
    }
    assert.match(out, /^64 B aes-256-gcm +\d/m);
    assert.match(out, /^64 B chacha20-poly1305 +\d/m);
    assert.match(out, /^100 +\d/m);
    assert.match(out, /node:crypto alone costs \d/);
    assert.doesNotMatch(out, /NaN|undefined|Infinity/);
    assert.ok(progress.some((line) => /crypto round 1\/1: SealedConnection batches/.test(line)));
  });
});
