/**
 * A bare TCP client that speaks (or deliberately misspeaks) the Parley wire protocol, for the
 * protocol robustness tests. It records every frame it receives and when the peer closes.
 */
import net from 'node:net';
import { parseAddress } from '../../src/transport/tcp-transport.js';
import { HEADER_SIZE, PacketType } from '../../src/wire/frame.js';

export interface RawFrame {
  readonly version: number;
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly body: Buffer;
}

export class RawConnection {
  private received = Buffer.alloc(0);
  readonly frames: RawFrame[] = [];
  /** Resolves when the socket has closed (by either side). */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.parse();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(address: string): Promise<RawConnection> {
    const { host, port } = parseAddress(address);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The GOODBYE the peer sent, if any. */
  goodbye(): { code: string; reason: string } | undefined {
    const frame = this.frames.find((f) => f.type === PacketType.GOODBYE);
    return frame ? (JSON.parse(frame.body.toString('utf8')) as { code: string; reason: string }) : undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    while (this.received.length >= HEADER_SIZE) {
      const length = this.received.readUInt32BE(0);
      if (this.received.length < 4 + length) return;
      this.frames.push({
        version: this.received[4]!,
        type: this.received[5]!,
        flags: this.received[6]!,
        stream: this.received.readUInt32BE(7),
        body: Buffer.from(this.received.subarray(HEADER_SIZE, 4 + length)),
      });
      this.received = this.received.subarray(4 + length);
    }
  }
}

/** A frame header with arbitrary (possibly invalid) fields, followed by `body`. */
export function rawFrame(fields: {
  length?: number;
  version?: number;
  type: number;
  flags?: number;
  stream?: number;
  body?: Uint8Array;
}): Buffer {
  const body = Buffer.from(fields.body ?? new Uint8Array(0));
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32BE(fields.length ?? 7 + body.length, 0);
  header[4] = fields.version ?? 1;
  header[5] = fields.type;
  header[6] = fields.flags ?? 0;
  header.writeUInt32BE(fields.stream ?? 0, 7);
  return Buffer.concat([header, body]);
}
