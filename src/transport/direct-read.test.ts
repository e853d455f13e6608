import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectRead } from './direct-read.js';

/** Feeds `bytes` to a DirectRead the way Node does: copied into the shared buffer, then the callback. */
function read(direct: DirectRead, bytes: number[]): void {
  const buffer = direct.onread.buffer as Uint8Array;
  buffer.set(bytes);
  const callback = direct.onread.callback as (n: number, b: Uint8Array) => boolean;
  assert.equal(callback(bytes.length, buffer), true);
}

describe('DirectRead', () => {
  it('hands each read to the consumer as a borrowed view of the shared buffer', () => {
    const direct = new DirectRead();
    const seen: { bytes: number[]; borrowed: boolean }[] = [];
    direct.attach((chunk, borrowed) => seen.push({ bytes: [...chunk], borrowed }));
    read(direct, [1, 2, 3]);
    read(direct, [4]);
    assert.deepEqual(seen, [
      { bytes: [1, 2, 3], borrowed: true },
      { bytes: [4], borrowed: true },
    ]);
    assert.equal(new DirectRead().onread.buffer, direct.onread.buffer, 'one receive buffer per process');
  });

  it('keeps a copy of what is read before a consumer is attached, and delivers it in order', () => {
    const direct = new DirectRead();
    read(direct, [1, 2]);
    read(direct, [3]);
    const seen: { bytes: number[]; borrowed: boolean }[] = [];
    direct.attach((chunk, borrowed) => seen.push({ bytes: [...chunk], borrowed }));
    assert.deepEqual(seen, [
      { bytes: [1, 2], borrowed: false },
      { bytes: [3], borrowed: false },
    ]);
  });
});
