/**
 * FrameBatch keeps its promises about memory: bytes handed out by take() are the caller's and never change
 * afterwards, whatever the batch does next (small batches copied out, large ones handed over whole, capacity kept);
 * view() shows the frames in place until clear(); every byte handed out is a byte of an appended frame.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, PacketType } from './frame.js';
import { FrameBatch } from './frame-batch.js';
import { FrameDecoder } from './frame-decoder.js';

const MAX = 16 * 1024 * 1024;

function bodyOf(size: number, seed: number): Uint8Array {
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = (seed + i * 7) & 0xff;
  return body;
}

function decodeAll(bytes: Uint8Array): { stream: number; body: number[] }[] {
  return new FrameDecoder(MAX).push(bytes).map((f) => ({ stream: f.stream, body: [...f.body] }));
}

describe('FrameBatch', () => {
  it('taken bytes never change, across copied-out and handed-over batches of any sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 6 }), { maxLength: 12 }),
        (flushes) => {
          const batch = new FrameBatch(1024);
          const taken: { bytes: Uint8Array; copy: Uint8Array; frames: { stream: number; size: number }[] }[] = [];
          let stream = 0;
          for (const sizes of flushes) {
            const frames = sizes.map((size) => ({ stream: stream++, size }));
            for (const f of frames) batch.append(PacketType.EVENT, 0, f.stream, bodyOf(f.size, f.stream));
            assert.equal(batch.frames, frames.length);
            const bytes = batch.take();
            assert.equal(batch.byteLength, 0);
            taken.push({ bytes, copy: Uint8Array.from(bytes), frames });
          }
          for (const t of taken) {
            assert.deepEqual(Uint8Array.from(t.bytes), t.copy);
            assert.deepEqual(
              decodeAll(t.bytes),
              t.frames.map((f) => ({ stream: f.stream, body: [...bodyOf(f.size, f.stream)] })),
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('view() is the frames in place; clear() empties the batch and the next frames start at byte 0', () => {
    const batch = new FrameBatch(16);
    batch.append(PacketType.EVENT, 1, 7, bodyOf(100, 1));
    batch.appendRaw(encodeFrame(PacketType.EVENT, 0, 8, bodyOf(3, 2)));
    assert.deepEqual(decodeAll(batch.view()), [
      { stream: 7, body: [...bodyOf(100, 1)] },
      { stream: 8, body: [...bodyOf(3, 2)] },
    ]);
    batch.clear();
    assert.equal(batch.byteLength, 0);
    assert.equal(batch.frames, 0);
    assert.equal(batch.view().length, 0);
    batch.append(PacketType.EVENT, 0, 9, bodyOf(5, 3));
    assert.deepEqual(decodeAll(batch.view()), [{ stream: 9, body: [...bodyOf(5, 3)] }]);
    assert.deepEqual(decodeAll(batch.take()), [{ stream: 9, body: [...bodyOf(5, 3)] }]);
  });

  it('a frame far larger than the batch is taken whole, and the batch goes on working afterwards', () => {
    const batch = new FrameBatch(8);
    batch.append(PacketType.EVENT, 0, 1, bodyOf(600_000, 4));
    assert.deepEqual(decodeAll(batch.take()), [{ stream: 1, body: [...bodyOf(600_000, 4)] }]);
    batch.append(PacketType.EVENT, 0, 2, bodyOf(600_000, 5));
    batch.clear();
    batch.append(PacketType.EVENT, 0, 3, bodyOf(10, 6));
    assert.deepEqual(decodeAll(batch.take()), [{ stream: 3, body: [...bodyOf(10, 6)] }]);
  });
});
