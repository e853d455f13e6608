/**
 * Framing for the bare echo peer: each frame is a 4-byte big-endian body length followed by a MessagePack body.
 * Deliberately minimal: no versioning, no checksums, one message type.
 */
import type { Packr } from 'msgpackr';

export function encodeFrame(packr: Packr, value: unknown): Buffer {
  const body = packr.pack(value);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/**
 * Reassembles frames from a byte stream. Invariant: `pending` holds the bytes of at most one incomplete frame
 * (everything before it has been handed to `onFrame`).
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(
    private readonly packr: Packr,
    private readonly onFrame: (value: unknown) => void,
  ) {}

  push(chunk: Buffer): void {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset);
      if (data.length - offset - 4 < length) break;
      this.onFrame(this.packr.unpack(data.subarray(offset + 4, offset + 4 + length)));
      offset += 4 + length;
    }
    this.pending = offset < data.length ? data.subarray(offset) : undefined;
  }
}
