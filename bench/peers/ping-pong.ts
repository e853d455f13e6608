/**
 * Raw ping-pong: the floor for one round trip between two Node processes on this machine. Length-prefixed
 * MessagePack of the payload alone over one TCP connection (no id, no envelope, no batching): the client writes
 * each request at once and matches responses in order (TCP keeps them in order and the server answers in arrival
 * order), the server decodes, re-encodes and writes each one at once. Nothing a framework could leave out is
 * left in, so `parley p50 ÷ ping-pong p50` at concurrency 1 is the overhead of Parley's call path.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { encodeFrame, FrameReader } from './length-prefixed-frames.js';
import type { PeerClient, PeerServer, PeerSystem } from './peer-system.js';

async function startServer(): Promise<PeerServer> {
  const packr = new Packr({ useRecords: false });
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader(packr, (payload) => socket.write(encodeFrame(packr, payload)));
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    eventsDelivered: () => 0,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function startClient(address: string): Promise<PeerClient> {
  const packr = new Packr({ useRecords: false });
  const [host, port] = address.split(':') as [string, string];
  const socket = createConnection({ host, port: Number(port), noDelay: true });
  await once(socket, 'connect');
  // Resolvers in request order; `head` indexes the oldest (a plain queue without shift()).
  let waiting: ((value: unknown) => void)[] = [];
  let head = 0;
  const reader = new FrameReader(packr, (payload) => {
    const resolve = waiting[head++];
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    }
    resolve?.(payload);
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('error', () => socket.destroy());
  return {
    call(payload) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        socket.write(encodeFrame(packr, payload));
      });
    },
    emit: () => {
      throw new Error('the ping-pong floor has no events; run the events benchmark without it');
    },
    emitWindow: 1,
    stop: async () => {
      socket.destroy();
    },
  };
}

export const pingPong: PeerSystem = {
  name: 'pingpong',
  description: 'raw ping-pong floor: 4-byte length + msgpackr payload over one TCP connection, one write per message',
  startServer,
  startClient,
};
