/**
 * Parley: one node serving `bench.echo` and `bench.tick`, one client node seeded with the server's address;
 * TCP on loopback, MessagePack (Parley's default codec), logger at 'error' (a benchmark does not log).
 *
 * Note for the events benchmark: `emit` resolves once the event is queued and rejects with RESOURCE_EXHAUSTED
 * when the outbound queue to the peer is full (maxOutboundBytes); that rejection is its only backpressure signal,
 * so the flood runs at the sender's pace and rejected emits are reported as send errors (not counted as sent).
 *
 * `parley-baseline` is the same adapter on another build of Parley, for an A/B in one run (the only fair
 * comparison on a shared machine): PARLEY_BASELINE=<a build's output folder, the one holding src/index.js>.
 */
import * as current from '../../src/index.js';
import type { PeerClient, PeerServer, PeerSystem } from './peer-system.js';

type CreateNode = typeof current.createNode;

async function startServer(createNode: CreateNode): Promise<PeerServer> {
  let delivered = 0;
  const server = createNode({ id: 'bench-server', host: '127.0.0.1', port: 0, logger: 'error' });
  server.addService({
    name: 'bench',
    actions: { echo: (params: unknown) => params },
    events: {
      'bench.tick': () => {
        delivered++;
      },
    },
  });
  await server.start();
  if (!server.address) throw new Error('Parley server started without a listen address');
  return {
    address: server.address,
    eventsDelivered: () => delivered,
    stop: () => server.stop(),
  };
}

async function startClient(createNode: CreateNode, address: string): Promise<PeerClient> {
  const client = createNode({ id: 'bench-client', host: '127.0.0.1', port: 0, seeds: [address], logger: 'error' });
  await client.start();
  await client.waitFor('bench.echo', 20_000);
  return {
    call: (payload) => client.call('bench.echo', payload, { timeout: 10_000 }),
    emit: (payload) => client.emit('bench.tick', payload),
    emitWindow: 1000,
    stop: () => client.stop(),
  };
}

export const parley: PeerSystem = {
  name: 'parley',
  description: 'Parley node runtime, TCP loopback, MessagePack codec (default), logger error',
  startServer: () => startServer(current.createNode),
  startClient: (address) => startClient(current.createNode, address),
};

/** The same adapter on the build in $PARLEY_BASELINE (see the file comment). */
export async function parleyBaseline(): Promise<PeerSystem> {
  const dir = process.env.PARLEY_BASELINE;
  if (!dir) throw new Error('parley-baseline needs PARLEY_BASELINE=<build output folder holding src/index.js>');
  const baseline = (await import(`${dir.replace(/\/$/, '')}/src/index.js`)) as typeof current;
  return {
    name: 'parley-baseline',
    description: `Parley built at ${dir}, same adapter`,
    startServer: () => startServer(baseline.createNode),
    startClient: (address) => startClient(baseline.createNode, address),
  };
}
