/**
 * Entry point of a benchmark child process: runs one side of one system and obeys commands from the orchestrator.
 *
 *   node dist/bench/harness/peer-process.js <system> server
 *   node dist/bench/harness/peer-process.js <system> client <server-address>
 *
 * Protocol (see peer-process-handle.ts): the child writes JSON lines prefixed with MARKER on stdout (anything else a
 * library prints there is ignored); the orchestrator writes one JSON command per line on stdin. The child exits
 * when told to stop or when stdin closes (the orchestrator died).
 */

import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { type PeerClient, type PeerServer, PeerUnavailableError } from '../peers/peer-system.js';
import { loadPeerSystem } from '../peers/registry.js';
import { runClosedLoop } from './closed-loop.js';
import { runEventFlood } from './event-flood.js';
import { makePayload } from './payloads.js';
import { type ChildCommand, type ChildMessage, MARKER } from './peer-process-protocol.js';

function send(message: ChildMessage): void {
  process.stdout.write(`${MARKER}${JSON.stringify(message)}\n`);
}

type Handler = (args: Record<string, number>) => Promise<unknown>;

function serverHandlers(server: PeerServer): Record<string, Handler> {
  return {
    /** Counts deliveries in [now + warmup, now + warmup + duration]. */
    count: async ({ warmupMs = 1000, durationMs = 3000 }) => {
      const base = server.eventsDelivered();
      await sleep(warmupMs);
      const from = server.eventsDelivered();
      const t0 = performance.now();
      await sleep(durationMs);
      const to = server.eventsDelivered();
      const seconds = (performance.now() - t0) / 1000;
      return { base, delivered: to - from, seconds, eventsPerSec: (to - from) / seconds };
    },
    /** Waits until no event has arrived for quietMs (bounded by maxMs); returns the running total. */
    drain: async ({ quietMs = 300, maxMs = 10_000 }) => {
      const deadline = Date.now() + maxMs;
      let last = server.eventsDelivered();
      for (;;) {
        await sleep(quietMs);
        const now = server.eventsDelivered();
        if (now === last || Date.now() > deadline) return { total: now, quiet: now === last };
        last = now;
      }
    },
  };
}

function clientHandlers(client: PeerClient): Record<string, Handler> {
  return {
    rpc: async ({ payloadBytes = 16, concurrency = 1, warmupMs = 1000, durationMs = 3000 }) => {
      const payload = makePayload(payloadBytes);
      const echoed = await client.call(payload);
      if (!isDeepStrictEqual(echoed, payload)) {
        throw new Error(`echo returned a different value: ${JSON.stringify(echoed).slice(0, 120)}`);
      }
      return runClosedLoop(() => client.call(payload), { concurrency, warmupMs, durationMs });
    },
    handshakes: async ({ count = 20 }) => {
      if (!client.handshakes) throw new Error('this system does not measure handshakes');
      return client.handshakes(count);
    },
    flood: async ({ payloadBytes = 16, durationMs = 4000 }) => {
      const payload = makePayload(payloadBytes);
      return runEventFlood(() => client.emit(payload), { durationMs, window: client.emitWindow });
    },
  };
}

async function main(): Promise<void> {
  const [systemName, role, address] = process.argv.slice(2);
  if (!systemName || (role !== 'server' && role !== 'client') || (role === 'client' && !address)) {
    throw new Error('usage: peer-process.js <system> server | <system> client <address>');
  }
  const system = await loadPeerSystem(systemName);
  let stopSide: () => Promise<void>;
  let handlers: Record<string, Handler>;
  try {
    if (role === 'server') {
      const server = await system.startServer();
      stopSide = () => server.stop();
      handlers = serverHandlers(server);
      send({ type: 'ready', address: server.address, description: system.description });
    } else {
      const client = await system.startClient(address!);
      stopSide = () => client.stop();
      handlers = clientHandlers(client);
      send({ type: 'ready', address: address!, description: system.description });
    }
  } catch (err) {
    send({
      type: 'failed',
      unavailable: err instanceof PeerUnavailableError,
      message: (err as Error)?.message ?? String(err),
    });
    process.exit(1);
  }

  let stopping = false;
  const stop = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    const forced = setTimeout(() => process.exit(exitCode), 3000);
    forced.unref();
    await stopSide().catch(() => undefined);
    // process.exit (not a kill) so that --cpu-prof writes its profile.
    process.exit(exitCode);
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const command = JSON.parse(line) as ChildCommand;
    if (command.cmd === 'stop') {
      send({ type: 'reply', id: command.id, ok: true, result: null });
      void stop(0);
      return;
    }
    const handler = handlers[command.cmd];
    if (!handler) {
      send({ type: 'reply', id: command.id, ok: false, error: `unknown command '${command.cmd}' for ${role}` });
      return;
    }
    handler(command.args ?? {}).then(
      (result) => send({ type: 'reply', id: command.id, ok: true, result }),
      (err) => send({ type: 'reply', id: command.id, ok: false, error: (err as Error)?.message ?? String(err) }),
    );
  });
  lines.on('close', () => void stop(0));
}

main().catch((err) => {
  send({ type: 'failed', unavailable: false, message: (err as Error)?.stack ?? String(err) });
  process.exit(1);
});
