/**
 * NATS request-reply and publish/subscribe through nats.js v2, against the NATS server at 127.0.0.1:4222 (not
 * started by the benchmark; the peer is skipped when it does not answer). Every run uses fresh subjects, so other
 * users of the same server do not interfere. Bodies are msgpackr; the server decodes and re-encodes each request.
 * Note that the NATS server is a third process competing for the same cores.
 */
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import { connect, type NatsConnection } from 'nats';
import { type PeerClient, type PeerServer, type PeerSystem, PeerUnavailableError } from './peer-system.js';

const NATS_URL = process.env.BENCH_NATS_URL ?? '127.0.0.1:4222';
/** Publishes between flushes; the sender waits for the previous flush, so at most two batches are in flight. */
const FLUSH_EVERY = 1024;

async function connectOrSkip(name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: NATS_URL, name, timeout: 2000, maxReconnectAttempts: 0 });
  } catch (err) {
    throw new PeerUnavailableError(`NATS server at ${NATS_URL} did not answer: ${(err as Error).message}`);
  }
}

async function startServer(): Promise<PeerServer> {
  const packr = new Packr({ useRecords: false });
  const nc = await connectOrSkip('bench-server');
  const prefix = `bench.${randomBytes(4).toString('hex')}`;
  let delivered = 0;
  nc.subscribe(`${prefix}.echo`, {
    callback: (err, msg) => {
      if (!err) msg.respond(packr.pack(packr.unpack(msg.data)));
    },
  });
  nc.subscribe(`${prefix}.tick`, {
    callback: (err, msg) => {
      if (err) return;
      packr.unpack(msg.data);
      delivered++;
    },
  });
  await nc.flush();
  return {
    address: `${NATS_URL}/${prefix}`,
    eventsDelivered: () => delivered,
    stop: () => nc.drain(),
  };
}

async function startClient(address: string): Promise<PeerClient> {
  const packr = new Packr({ useRecords: false });
  const prefix = address.slice(address.lastIndexOf('/') + 1);
  const nc = await connectOrSkip('bench-client');
  const echoSubject = `${prefix}.echo`;
  const tickSubject = `${prefix}.tick`;
  let published = 0;
  let previousFlush: Promise<void> = Promise.resolve();
  return {
    call: async (payload) => {
      const reply = await nc.request(echoSubject, packr.pack(payload), { timeout: 10_000 });
      return packr.unpack(reply.data);
    },
    emit: (payload) => {
      nc.publish(tickSubject, packr.pack(payload));
      if (++published % FLUSH_EVERY !== 0) return undefined;
      const wait = previousFlush;
      previousFlush = nc.flush();
      return wait;
    },
    emitWindow: 1,
    stop: () => nc.close(),
  };
}

export const nats: PeerSystem = {
  name: 'nats',
  description: `nats.js 2 request-reply / publish-subscribe via nats-server at ${NATS_URL}, msgpackr bodies`,
  startServer,
  startClient,
};
