/**
 * Parley: one node serving `bench.echo` and `bench.tick`, one client node seeded with the server's address;
 * TCP on loopback, MessagePack (Parley's default codec).
 *
 * The node API is described locally (ParleyNodeApi) and the module is loaded dynamically, so this adapter compiles
 * whether or not the runtime has landed; when `createNode` is missing the peer is skipped with a note.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type PeerClient, type PeerServer, type PeerSystem, PeerUnavailableError } from './peer-system.js';

interface ParleyNodeApi {
  readonly address: string;
  addService(definition: {
    name: string;
    actions?: Record<string, (params: unknown) => unknown>;
    events?: Record<string, (payload: unknown) => void>;
  }): unknown;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  call(action: string, params: unknown, options?: { timeout?: number }): Promise<unknown>;
  emit(event: string, payload: unknown): Promise<unknown> | unknown;
  waitFor?(name: string, options?: unknown): Promise<unknown>;
}

type CreateNode = (options: { id: string; host: string; port: number; seeds?: string[] }) => ParleyNodeApi;

async function loadCreateNode(): Promise<CreateNode> {
  const mod = (await import('../../src/index.js')) as unknown as { createNode?: CreateNode };
  if (typeof mod.createNode !== 'function') {
    throw new PeerUnavailableError('src/index.ts does not export createNode yet (Parley runtime not landed)');
  }
  return mod.createNode;
}

/** Waits until `bench.echo` is routable: `waitFor` when the node has it, otherwise calls until not NOT_FOUND. */
async function waitForEcho(client: ParleyNodeApi): Promise<void> {
  if (typeof client.waitFor === 'function') {
    await client.waitFor('bench.echo');
    return;
  }
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await client.call('bench.echo', { ping: true }, { timeout: 1000 });
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (Date.now() > deadline || (code !== 'NOT_FOUND' && code !== 'UNAVAILABLE' && code !== 'DEADLINE_EXCEEDED'))
        throw err;
      await sleep(50);
    }
  }
}

async function startServer(): Promise<PeerServer> {
  const createNode = await loadCreateNode();
  let delivered = 0;
  const server = createNode({ id: 'bench-server', host: '127.0.0.1', port: 0 });
  server.addService({
    name: 'bench',
    actions: { echo: (params) => params },
    events: {
      'bench.tick': () => {
        delivered++;
      },
    },
  });
  await server.start();
  return {
    address: server.address,
    eventsDelivered: () => delivered,
    stop: async () => {
      await server.stop();
    },
  };
}

async function startClient(address: string): Promise<PeerClient> {
  const createNode = await loadCreateNode();
  const client = createNode({ id: 'bench-client', host: '127.0.0.1', port: 0, seeds: [address] });
  await client.start();
  await waitForEcho(client);
  return {
    call: (payload) => client.call('bench.echo', payload, { timeout: 10_000 }),
    emit: (payload) => {
      const pending = client.emit('bench.tick', payload);
      return pending instanceof Promise ? (pending as Promise<void>) : undefined;
    },
    emitWindow: 1000,
    stop: async () => {
      await client.stop();
    },
  };
}

export const parley: PeerSystem = {
  name: 'parley',
  description: 'Parley node runtime, TCP loopback, MessagePack codec (default)',
  startServer,
  startClient,
};
