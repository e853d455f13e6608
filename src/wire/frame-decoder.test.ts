import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, FrameFlag, HEADER_SIZE, PacketType, PROTOCOL_VERSION } from './frame.js';
import { FrameBatch } from './frame-batch.js';
import { FrameDecoder, FrameError } from './frame-decoder.js';

const MAX = 64 * 1024;

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.slice(prev, p));
    prev = p;
  }
  out.push(bytes.slice(prev));
  return out;
}

describe('FrameDecoder', () => {
  it('decodes one frame with its header fields', () => {
    const body = new Uint8Array([1, 2, 3]);
    const frames = new FrameDecoder(MAX).push(encodeFrame(PacketType.REQUEST, FrameFlag.JSON, 0xfffffffe, body));
    assert.equal(frames.length, 1);
    const f = frames[0]!;
    assert.equal(f.version, PROTOCOL_VERSION);
    assert.equal(f.type, PacketType.REQUEST);
    assert.equal(f.flags, FrameFlag.JSON);
    assert.equal(f.stream, 0xfffffffe);
    assert.deepEqual([...f.body], [1, 2, 3]);
  });

  it('reassembles any sequence of frames split at any points (property)', () => {
    const frameArb = fc.record({
      type: fc.constantFrom(...Object.values(PacketType)),
      flags: fc.integer({ min: 0, max: 255 }),
      stream: fc.integer({ min: 0, max: 0xffffffff }),
      body: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const batch = new FrameBatch(8);
        for (const f of frames) batch.append(f.type, f.flags, f.stream, f.body);
        const decoder = new FrameDecoder(MAX);
        const got = split(batch.take(), cuts).flatMap((c) =>
          decoder
            .push(c)
            .map((f) => ({ type: f.type, flags: f.flags, stream: f.stream, body: Uint8Array.from(f.body) })),
        );
        assert.deepEqual(
          got,
          frames.map((f) => ({ ...f })),
        );
        assert.equal(decoder.pendingBytes, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps nothing of a borrowed chunk: frames survive the reuse of its memory (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bodies, cuts) => {
          const batch = new FrameBatch(8);
          for (const [i, body] of bodies.entries()) batch.append(PacketType.EVENT, 0, i, body);
          const decoder = new FrameDecoder(MAX);
          // One receive buffer for every read, overwritten with junk once each push has been handled.
          const shared = new Uint8Array(4096);
          const got: Uint8Array[] = [];
          for (const piece of split(batch.take(), cuts)) {
            shared.set(piece);
            for (const f of decoder.push(shared.subarray(0, piece.length), true)) got.push(Uint8Array.from(f.body));
            shared.fill(0xee);
          }
          assert.deepEqual(got, bodies);
          assert.equal(decoder.pendingBytes, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects an oversized length before buffering the body', () => {
    const decoder = new FrameDecoder(1024);
    const header = new Uint8Array(HEADER_SIZE);
    new DataView(header.buffer).setUint32(0, 1024 * 1024);
    header[4] = PROTOCOL_VERSION;
    header[5] = PacketType.REQUEST;
    assert.throws(
      () => decoder.push(header),
      (e: unknown) => e instanceof FrameError && e.kind === 'oversized' && /maximum frame size/.test(e.message),
    );
    assert.equal(decoder.pendingBytes, 0);
    // A dead decoder stays dead.
    assert.throws(() => decoder.push(new Uint8Array([0])), FrameError);
  });

  it('rejects an oversized length that arrives one byte at a time', () => {
    const decoder = new FrameDecoder(100);
    const bytes = encodeFrame(PacketType.EVENT, 0, 1, new Uint8Array(200));
    let error: unknown;
    for (const b of bytes) {
      try {
        decoder.push(new Uint8Array([b]));
      } catch (e) {
        error = e;
        break;
      }
    }
    assert.ok(error instanceof FrameError && error.kind === 'oversized');
  });

  it('names the peer version when the protocol version differs', () => {
    const bytes = encodeFrame(PacketType.HELLO, 0, 0, new Uint8Array(4), 9);
    assert.throws(
      () => new FrameDecoder(MAX).push(bytes),
      (e: unknown) =>
        e instanceof FrameError && e.kind === 'version' && e.peerVersion === 9 && /version 9/.test(e.message),
    );
  });

  it('rejects unknown packet types and undersized lengths', () => {
    const unknown = encodeFrame(PacketType.PING, 0, 0, new Uint8Array(0));
    unknown[5] = 200;
    assert.throws(
      () => new FrameDecoder(MAX).push(unknown),
      (e: unknown) => e instanceof FrameError && e.kind === 'unknown-type',
    );
    const short = new Uint8Array([0, 0, 0, 2, PROTOCOL_VERSION, 1]);
    assert.throws(
      () => new FrameDecoder(MAX).push(short),
      (e: unknown) => e instanceof FrameError && e.kind === 'undersized',
    );
  });

  it('never throws anything but FrameError and never buffers past the limit on random bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 20 }), (chunks) => {
        const decoder = new FrameDecoder(4096);
        for (const c of chunks) {
          try {
            decoder.push(c);
          } catch (e) {
            assert.ok(e instanceof FrameError, `unexpected error ${String(e)}`);
            return;
          }
          assert.ok(decoder.pendingBytes <= 4096 + HEADER_SIZE + c.length);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('holds the first frame (the HELLO) to its own, smaller limit, then allows full frames', () => {
    const limits = { maxFrameSize: 1 << 20, maxFirstFrameSize: 1024 };
    const big = encodeFrame(PacketType.REQUEST, 0, 1, new Uint8Array(4096));
    // Only the 11-byte header arrived: refused before a body byte is buffered.
    assert.throws(
      () => new FrameDecoder(limits).push(big.subarray(0, HEADER_SIZE)),
      (e: unknown) => e instanceof FrameError && e.kind === 'oversized' && /before the handshake/.test(e.message),
    );
    const decoder = new FrameDecoder(limits);
    const hello = encodeFrame(PacketType.HELLO, FrameFlag.JSON, 0, new Uint8Array(1000));
    // HELLO and a large frame in one chunk: the second frame is held to the full limit.
    const frames = decoder.push(Buffer.concat([hello, big]));
    assert.deepEqual(
      frames.map((f) => f.type),
      [PacketType.HELLO, PacketType.REQUEST],
    );
  });

  it('does not keep a large read buffer alive for a few bytes of an unfinished frame; discard drops them', () => {
    const decoder = new FrameDecoder(MAX);
    const frame = encodeFrame(PacketType.ONEWAY, 0, 1, new Uint8Array(100));
    const readBuffer = new Uint8Array(64 * 1024);
    readBuffer.set(frame.subarray(0, 20));
    decoder.push(readBuffer.subarray(0, 20)); // 20 bytes of a 64 KiB read buffer
    assert.equal(decoder.pendingBytes, 20);
    const kept = (decoder as unknown as { chunks: Uint8Array[] }).chunks;
    assert.ok(
      kept.every((c) => c.buffer.byteLength <= 40),
      'the kept bytes were copied out of the read buffer',
    );
    decoder.discard();
    assert.equal(decoder.pendingBytes, 0);
    assert.deepEqual(decoder.push(frame).length, 1, 'usable again after discard');
  });

  it('handles truncated streams: a cut frame stays pending, never emitted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.nat(), (body, cut) => {
        const bytes = encodeFrame(PacketType.ONEWAY, 0, 7, body);
        const at = cut % bytes.length;
        const decoder = new FrameDecoder(MAX);
        assert.deepEqual(decoder.push(bytes.slice(0, at)), []);
        assert.equal(decoder.pendingBytes, at);
      }),
    );
  });
});
