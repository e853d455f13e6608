import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AEAD_ALGORITHMS } from '../../base/aead.js';
import { FrameOpener, FrameSealer, SEAL_OVERHEAD } from './frame-sealer.js';
import { DEFAULT_EPOCH_MESSAGES } from './key-schedule.js';
import { REPLAY_WINDOW_SIZE } from './replay-window.js';
import { isSealError, type SealErrorReason } from './seal-error.js';

const key = randomBytes(32);
const aad = Uint8Array.from([1, 2, 0, 0, 0, 0, 9]);
const text = (s: string) => new TextEncoder().encode(s);
const reasonIs = (reason: SealErrorReason) => (e: unknown) => isSealError(e, reason);

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index]! ^= 0x01;
  return copy;
}

for (const algorithm of AEAD_ALGORITHMS) {
  describe(`frame sealer (${algorithm})`, () => {
    it('round trips, adds 24 bytes, and never repeats a counter', () => {
      const sealer = new FrameSealer(key, { algorithm });
      const opener = new FrameOpener(key, { algorithm });
      const seen = new Set<string>();
      for (const size of [0, 1, 64, 1024, 70_000]) {
        const plaintext = randomBytes(size);
        const sealed = sealer.seal(aad, plaintext);
        assert.equal(sealed.length, size + SEAL_OVERHEAD);
        const counter = Buffer.from(sealed.subarray(0, 8)).toString('hex');
        assert.ok(!seen.has(counter));
        seen.add(counter);
        assert.deepEqual(Buffer.from(opener.open(aad, sealed)), plaintext);
      }
      // Same plaintext twice: different ciphertexts (different nonces).
      const x = sealer.seal(aad, text('same'));
      const y = sealer.seal(aad, text('same'));
      assert.notDeepEqual(x.subarray(8), y.subarray(8));
    });

    it('refuses a flipped bit anywhere: counter, ciphertext, tag, or AAD', () => {
      const sealed = new FrameSealer(key, { algorithm }).seal(aad, text('transfer 100 to bob'));
      for (const index of [7, 8, 8 + 5, sealed.length - 16, sealed.length - 1]) {
        const opener = new FrameOpener(key, { algorithm, ordering: 'window' });
        assert.throws(() => opener.open(aad, flip(sealed, index)), reasonIs('tampered'), `bit flipped at ${index}`);
        // A refused message changes nothing: the original still opens.
        assert.equal(Buffer.from(opener.open(aad, sealed)).toString(), 'transfer 100 to bob');
      }
      for (let i = 0; i < aad.length; i++) {
        assert.throws(() => new FrameOpener(key, { algorithm }).open(flip(aad, i), sealed), reasonIs('tampered'));
      }
    });

    it('refuses a truncated tag (no 4-byte or 12-byte GCM tags) and a too-short message', () => {
      const sealed = new FrameSealer(key, { algorithm }).seal(aad, text('abcdefghijklmnop'));
      for (const cut of [1, 4, 12]) {
        const opener = new FrameOpener(key, { algorithm, ordering: 'window' });
        assert.throws(() => opener.open(aad, sealed.subarray(0, sealed.length - cut)), reasonIs('tampered'));
      }
      for (const length of [0, 8, 23]) {
        assert.throws(
          () => new FrameOpener(key, { algorithm }).open(aad, sealed.subarray(0, length)),
          reasonIs('truncated'),
        );
      }
    });

    it('strict ordering: a replay and a skipped or reordered message are refused', () => {
      const sealer = new FrameSealer(key, { algorithm });
      const opener = new FrameOpener(key, { algorithm });
      const m = [0, 1, 2, 3].map((i) => sealer.seal(aad, text(`m${i}`)));
      opener.open(aad, m[0]!);
      assert.throws(() => opener.open(aad, m[0]!), reasonIs('replayed'));
      assert.throws(() => opener.open(aad, m[2]!), reasonIs('out-of-order'));
      opener.open(aad, m[1]!);
      opener.open(aad, m[2]!);
      assert.throws(() => opener.open(aad, m[1]!), reasonIs('replayed'));
    });

    it('window ordering: reordered messages are accepted once, replays and too-old ones refused', () => {
      const sealer = new FrameSealer(key, { algorithm });
      const opener = new FrameOpener(key, { algorithm, ordering: 'window' });
      const m = Array.from({ length: REPLAY_WINDOW_SIZE + 10 }, (_, i) => sealer.seal(aad, text(`m${i}`)));
      assert.equal(Buffer.from(opener.open(aad, m[5]!)).toString(), 'm5');
      assert.equal(Buffer.from(opener.open(aad, m[2]!)).toString(), 'm2');
      assert.throws(() => opener.open(aad, m[5]!), reasonIs('replayed'));
      assert.throws(() => opener.open(aad, m[2]!), reasonIs('replayed'));
      opener.open(aad, m[REPLAY_WINDOW_SIZE + 9]!);
      assert.throws(() => opener.open(aad, m[3]!), reasonIs('too-old'));
      opener.open(aad, m[9]!); // exactly at the window's edge
    });

    it('a message sealed with another key or algorithm does not open', () => {
      const sealed = new FrameSealer(key, { algorithm }).seal(aad, text('x'));
      assert.throws(() => new FrameOpener(randomBytes(32), { algorithm }).open(aad, sealed), reasonIs('tampered'));
      const other = AEAD_ALGORITHMS.find((a) => a !== algorithm)!;
      assert.throws(() => new FrameOpener(key, { algorithm: other }).open(aad, sealed), reasonIs('tampered'));
    });
  });
}

describe('key epochs', () => {
  it('change key every epochMessages messages, in step on both sides, with no extra message', () => {
    const sealer = new FrameSealer(key, { epochMessages: 3 });
    const strict = new FrameOpener(key, { epochMessages: 3 });
    const windowed = new FrameOpener(key, { epochMessages: 3, ordering: 'window' });
    const sealed: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      sealed.push(sealer.seal(aad, text(`m${i}`)));
      assert.equal(Buffer.from(strict.open(aad, sealed[i]!)).toString(), `m${i}`);
    }
    assert.equal(sealer.epoch, 3);
    // Epochs really use new keys: message 4 (epoch 1) does not open under the session key.
    const epoch1 = new Uint8Array(sealed[4]!);
    epoch1.set([0, 0, 0, 0, 0, 0, 0, 1], 0); // pretend it is counter 1 of epoch 0
    assert.throws(() => new FrameOpener(key, { ordering: 'window' }).open(aad, epoch1), reasonIs('tampered'));
    // Reordered across an epoch boundary inside the window: accepted once each.
    for (const i of [1, 0, 4, 2, 3, 7, 5, 6, 9, 8]) windowed.open(aad, sealed[i]!);
    assert.throws(() => windowed.open(aad, sealed[4]!), reasonIs('replayed'));
  });

  it('a byte budget ends an epoch early and the counter jumps to the next epoch', () => {
    const sealer = new FrameSealer(key, { epochMessages: 100, epochBytes: 10 });
    const opener = new FrameOpener(key, { epochMessages: 100, epochBytes: 10 });
    const counters: number[] = [];
    for (const size of [4, 4, 4, 1, 20, 1]) {
      counters.push(sealer.nextCounter);
      opener.open(aad, sealer.seal(aad, new Uint8Array(size)));
    }
    assert.deepEqual(counters, [0, 1, 2, 100, 101, 200]);
  });

  it('a window opener refuses a counter more than one epoch ahead without deriving keys', () => {
    const sealer = new FrameSealer(key, { epochMessages: 2 });
    const opener = new FrameOpener(key, { epochMessages: 2, ordering: 'window' });
    const m = Array.from({ length: 8 }, (_, i) => sealer.seal(aad, text(`m${i}`)));
    assert.throws(() => opener.open(aad, m[4]!), reasonIs('out-of-order'));
    opener.open(aad, m[0]!);
    opener.open(aad, m[2]!); // epoch 1
    opener.open(aad, m[4]!); // epoch 2
    assert.throws(() => opener.open(aad, m[1]!), reasonIs('too-old')); // epoch 0 is forgotten
    opener.open(aad, m[3]!); // epoch 1, the previous one, still opens
  });

  it('defaults to 2^32 messages per key', () => {
    assert.equal(DEFAULT_EPOCH_MESSAGES, 2 ** 32);
    assert.throws(() => new FrameSealer(key, { epochMessages: 0 }), RangeError);
  });
});

describe('opener against arbitrary mutations (property)', () => {
  it('any changed, cut or extended sealed message is refused with a seal error, and changes nothing', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('cut' as const), keep: fc.nat() }),
      fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
      fc.record({
        kind: fc.constant('aad' as const),
        at: fc.integer({ min: 0, max: 6 }),
        bit: fc.integer({ min: 0, max: 7 }),
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), mutation, fc.boolean(), (plaintext, m, windowed) => {
        const sealer = new FrameSealer(key);
        const opener = new FrameOpener(key, { ordering: windowed ? 'window' : 'strict' });
        const sealed = sealer.seal(aad, plaintext);
        let bad = Uint8Array.from(sealed);
        let badAad = aad;
        if (m.kind === 'flip') bad[m.at % bad.length]! ^= 1 << m.bit;
        else if (m.kind === 'cut') bad = bad.subarray(0, m.keep % bad.length);
        else if (m.kind === 'extend') bad = Uint8Array.from([...bad, ...m.extra]);
        else {
          badAad = Uint8Array.from(aad);
          badAad[m.at]! ^= 1 << m.bit;
        }
        assert.throws(
          () => opener.open(badAad, bad),
          (e) => isSealError(e),
        );
        assert.deepEqual(new Uint8Array(opener.open(aad, sealed)), plaintext);
      }),
      { numRuns: 300 },
    );
  });
});
