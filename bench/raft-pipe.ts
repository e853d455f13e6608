import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Packr } from 'msgpackr';

/**
 * A minimal message pipe for the raft benchmark, independent of Parley's transport:
 * length-prefixed (u32 big-endian) msgpackr frames over TCP. Writes issued in one tick are
 * coalesced into one socket write (cork/uncork on the next microtask).
 */
const packr = new Packr({ useRecords: false });

export class FramePipe {
  private pending: Buffer[] = [];
  private flushQueued = false;
  private buffered: Buffer = Buffer.alloc(0);

  constructor(
    private readonly socket: Socket,
    onMessage: (value: unknown) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      let at = 0;
      while (this.buffered.length - at >= 4) {
        const len = this.buffered.readUInt32BE(at);
        if (this.buffered.length - at - 4 < len) break;
        onMessage(packr.unpack(this.buffered.subarray(at + 4, at + 4 + len)));
        at += 4 + len;
      }
      this.buffered = at === this.buffered.length ? Buffer.alloc(0) : this.buffered.subarray(at);
    });
  }

  send(value: unknown): void {
    const body = packr.pack(value);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    this.pending.push(head, body);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        const out = Buffer.concat(this.pending);
        this.pending = [];
        this.socket.write(out);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function listenPipes(
  port: number,
  onPipe: (pipe: FramePipe, onMessage: (fn: (v: unknown) => void) => void) => void,
): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      let handler: (v: unknown) => void = () => {};
      const pipe = new FramePipe(socket, (v) => handler(v));
      onPipe(pipe, (fn) => {
        handler = fn;
      });
    });
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export function connectPipe(port: number, onMessage: (v: unknown) => void): Promise<FramePipe> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => resolve(new FramePipe(socket, onMessage)));
    socket.once('error', reject);
  });
}
