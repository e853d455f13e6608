/**
 * Moleculer 0.14 with its built-in TCP transporter, loopback only: UDP discovery off, the client finds the server
 * through a static `urls` entry (gossip then runs over the TCP connection). JSON serializer (Moleculer's default;
 * its MsgPack/Notepack/CBOR serializers need packages that are not installed). Logger, metrics and tracing off.
 */
import { ServiceBroker } from 'moleculer';
import type { PeerClient, PeerServer, PeerSystem } from './peer-system.js';

const SERVER_NODE_ID = 'bench-server';

function tcpTransporter(urls: string[] | null) {
  return {
    type: 'TCP',
    options: { udpDiscovery: false, urls, port: null },
  };
}

function brokerOptions(nodeID: string, urls: string[] | null) {
  return {
    nodeID,
    logger: false,
    transporter: tcpTransporter(urls),
    serializer: 'JSON',
    metrics: false,
    tracing: false,
    requestTimeout: 0,
  };
}

async function startServer(): Promise<PeerServer> {
  let delivered = 0;
  const broker = new ServiceBroker(brokerOptions(SERVER_NODE_ID, null));
  broker.createService({
    name: 'bench',
    actions: {
      echo: (ctx) => ctx.params,
    },
    events: {
      'bench.tick': () => {
        delivered++;
      },
    },
  });
  await broker.start();
  // The TCP transporter listens on a random port when `port` is null and records it in its options.
  const port = (broker.transit as unknown as { tx: { opts: { port: number } } }).tx.opts.port;
  return {
    address: `127.0.0.1:${port}`,
    eventsDelivered: () => delivered,
    stop: () => broker.stop(),
  };
}

async function startClient(address: string): Promise<PeerClient> {
  const broker = new ServiceBroker(brokerOptions('bench-client', [`${address}/${SERVER_NODE_ID}`]));
  await broker.start();
  await broker.waitForServices(['bench'], 20_000);
  return {
    call: (payload) => broker.call('bench.echo', payload as Record<string, unknown>),
    // Resolves on the socket write callback, so a window of unsettled emits bounds what is buffered.
    emit: (payload) => broker.emit('bench.tick', payload) as Promise<void>,
    emitWindow: 1000,
    stop: () => broker.stop(),
  };
}

export const moleculer: PeerSystem = {
  name: 'moleculer',
  description: 'Moleculer 0.14 TCP transporter (udpDiscovery off, static urls), JSON serializer',
  startServer,
  startClient,
};
