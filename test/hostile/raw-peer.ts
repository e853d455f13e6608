/**
 * A raw TCP peer that speaks just enough of the wire protocol to misbehave: what a hostile
 * process does to a Parley port. It records the close, and (when it reads at all) counts bytes.
 */
import net from 'node:net';
import { jsonCodec, msgpackCodec } from '../../src/wire/codec.js';
import { encodeFrame, FrameFlag, HEADER_SIZE, PacketType, PROTOCOL_VERSION } from '../../src/wire/frame.js';
import { encodeRequest, type HelloBody } from '../../src/wire/packets.js';

export interface RawPeer {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  isClosed(): boolean;
  /** Bytes received so far. */
  received(): number;
}

/** Connects from `localAddress` (any 127.x.y.z on Linux loopback: its own per-address allowance). */
export function rawConnect(address: string, localAddress = '127.0.0.1'): Promise<RawPeer> {
  const [host, port] = address.split(':');
  const socket = net.connect({ host: host!, port: Number(port), localAddress });
  let isClosed = false;
  let received = 0;
  socket.on('error', () => {});
  socket.on('data', (d) => (received += d.length));
  const closed = new Promise<void>((r) =>
    socket.once('close', () => {
      isClosed = true;
      r();
    }),
  );
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, closed, isClosed: () => isClosed, received: () => received }));
    socket.once('error', reject);
  });
}

export function helloFrame(id: string): Uint8Array {
  const hello: HelloBody = {
    protocol: PROTOCOL_VERSION,
    codec: 'msgpack',
    maxFrameSize: 16 * 1024 * 1024,
    node: { id, address: null, incarnation: `${id}-1`, version: 1, services: [], meta: {} },
  };
  return encodeFrame(PacketType.HELLO, FrameFlag.JSON, 0, jsonCodec.encode(hello));
}

export function requestFrame(stream: number, action: string, params: unknown): Uint8Array {
  const body = msgpackCodec.encode(encodeRequest({ action, params, meta: null, timeoutMs: 0, options: null }));
  return encodeFrame(PacketType.REQUEST, 0, stream, body);
}

/** A frame header announcing `length` bytes after the length field, and no body. */
export function lyingHeader(type: number, length: number): Uint8Array {
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32BE(length >>> 0, 0);
  h[4] = PROTOCOL_VERSION;
  h[5] = type;
  return h;
}
