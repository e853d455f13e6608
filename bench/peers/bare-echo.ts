/**
 * Bare echo: length-prefixed MessagePack over one TCP connection, no framework. The practical ceiling for Node on
 * this machine. Requests are `[id, payload]` and answered with `[id, payload]` after a full decode/encode;
 * id 0 marks a one-way event, which the server only counts. Both sides batch their writes per tick with
 * cork/uncork, and the client pipelines any number of outstanding requests.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { encodeFrame, FrameReader } from './length-prefixed-frames.js';
import type { PeerClient, PeerServer, PeerSystem } from './peer-system.js';

const EVENT_ID = 0;

function corkForThisTick(socket: Socket): void {
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
}

async function startServer(): Promise<PeerServer> {
  const packr = new Packr({ useRecords: false });
  let delivered = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader(packr, (message) => {
      const [id, payload] = message as [number, unknown];
      if (id === EVENT_ID) {
        delivered++;
        return;
      }
      corkForThisTick(socket);
      socket.write(encodeFrame(packr, [id, payload]));
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    eventsDelivered: () => delivered,
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
  const waiting = new Map<number, (value: unknown) => void>();
  let nextId = 1;
  let drained: Promise<void> | undefined;
  const reader = new FrameReader(packr, (message) => {
    const [id, payload] = message as [number, unknown];
    const resolve = waiting.get(id);
    if (resolve) {
      waiting.delete(id);
      resolve(payload);
    }
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('error', () => socket.destroy());

  const send = (frame: Buffer): Promise<void> | undefined => {
    corkForThisTick(socket);
    if (socket.write(frame)) return undefined;
    drained ??= once(socket, 'drain').then(() => {
      drained = undefined;
    });
    return drained;
  };

  return {
    call(payload) {
      const id = nextId;
      nextId = nextId >= 0x7fffffff ? 1 : nextId + 1;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        send(encodeFrame(packr, [id, payload]));
      });
    },
    emit: (payload) => send(encodeFrame(packr, [EVENT_ID, payload])),
    emitWindow: 1,
    stop: async () => {
      socket.destroy();
    },
  };
}

export const bareEcho: PeerSystem = {
  name: 'bare',
  description: 'bare echo: 4-byte length + msgpackr body over one TCP connection, pipelined, writes corked per tick',
  startServer,
  startClient,
};
