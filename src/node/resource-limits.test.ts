/**
 * The per-peer resource limits of a node: connections per remote address (TcpTransport), requests
 * and one-way messages in flight per caller (RequestServer), catalog entries one node may announce
 * (parseNodeInfo). Each refuses with a coded error or a counted close, and each leaves everyone
 * else served.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import type { Connection } from '../transport/connection.js';
import type { Logger } from '../transport/logger.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import { MAX_NODE_INFO_ENTRIES, parseNodeInfo } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import { startCluster, stopAll } from './testing/test-cluster.js';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (m: string) => lines.push(`${level} ${m}`);
  return { lines, debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') };
}

/** A raw TCP connection from `localAddress`; resolves with it and a promise of its close. */
async function connectFrom(address: string, localAddress: string) {
  const [host, port] = address.split(':');
  const socket = net.connect({ host: host!, port: Number(port), localAddress });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  return { socket, closed, isClosed: () => isClosed };
}

describe('connections per remote address', () => {
  it('past maxConnectionsPerAddress a connection is closed at once, counted and logged once; other addresses are served', async () => {
    const log = recordingLogger();
    const transport = new TcpTransport({
      host: '127.0.0.1',
      port: 0,
      maxFrameSize: 1024 * 1024,
      maxOutboundBytes: 1024 * 1024,
      maxConnectionsPerAddress: 3,
      logger: log,
    });
    const accepted: Connection[] = [];
    const address = (await transport.listen((c) => accepted.push(c)))!;
    try {
      const held = [];
      for (let i = 0; i < 3; i++) held.push(await connectFrom(address, '127.0.0.1'));
      await waitUntil(() => accepted.length === 3, 5000, 'three connections accepted');
      const over = [await connectFrom(address, '127.0.0.1'), await connectFrom(address, '127.0.0.1')];
      await Promise.all(over.map((c) => c.closed));
      assert.equal(transport.refusedConnections, 2);
      assert.equal(accepted.length, 3, 'the refused connections never reached the node');
      assert.equal(log.lines.filter((l) => /refusing connections from 127\.0\.0\.1/.test(l)).length, 1);
      assert.match(log.lines[0]!, /maxConnectionsPerAddress/);
      // Another address has its own allowance.
      const other = await connectFrom(address, '127.0.0.2');
      await waitUntil(() => accepted.length === 4, 5000, 'a connection from another address accepted');
      // A closed connection frees its slot (the count drops before the connection reports closed).
      held[0]!.socket.destroy();
      await waitUntil(() => accepted[0]!.closed, 5000, 'the server side of the closed connection');
      held.push(await connectFrom(address, '127.0.0.1'));
      await waitUntil(() => accepted.length === 5, 5000, 'a new connection accepted in the freed slot');
      assert.equal(transport.refusedConnections, 2);
      for (const c of [...held, other]) c.socket.destroy();
    } finally {
      transport.destroyAll();
      await transport.close();
    }
  });
});

describe('requests in flight per caller', () => {
  it('past maxInFlightPerPeer a call is RESOURCE_EXHAUSTED naming the option; the caller is served again once some finish', async () => {
    const gates: (() => void)[] = [];
    const slow = {
      name: 'slow',
      actions: {
        wait: () => new Promise<string>((r) => gates.push(() => r('done'))),
        fast: () => 'fast',
      },
    };
    const nodes = await startCluster([[slow], []], { maxInFlightPerPeer: 3 });
    const [server, caller] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    try {
      const calls = Array.from({ length: 3 }, () => caller.call('slow.wait', {}));
      await waitUntil(() => gates.length === 3, 5000, 'three handlers running');
      const refused = await caller.call('slow.wait', {}).then(
        () => assert.fail('the fourth call ran'),
        (e: unknown) => e,
      );
      assert.ok(ParleyError.is(refused, 'RESOURCE_EXHAUSTED'), String(refused));
      assert.match((refused as ParleyError).message, /maxInFlightPerPeer/);
      assert.deepEqual((refused as ParleyError).details, { reason: 'max-in-flight-per-peer', limit: 3 });
      // A synchronous handler never waits in flight, but the limit is per caller: it is refused too.
      await assert.rejects(caller.call('slow.fast', {}), (e: unknown) => ParleyError.is(e, 'RESOURCE_EXHAUSTED'));
      // The server itself (another caller: local) is not limited by what this peer holds.
      assert.equal(await server.call('slow.fast', {}), 'fast');
      for (const open of gates.splice(0)) open();
      assert.deepEqual(await Promise.all(calls), ['done', 'done', 'done']);
      assert.equal(await caller.call('slow.fast', {}), 'fast');
    } finally {
      for (const open of gates) open();
      await stopAll(nodes);
    }
  });
});

describe('one-way messages in flight per caller', () => {
  it('past maxInFlightPerPeer a one-way message is dropped, not queued', async () => {
    const started: string[] = [];
    const gates: (() => void)[] = [];
    const svc = {
      name: 'sink',
      actions: {
        take: (p: { tag: string }) => {
          started.push(p.tag);
          return new Promise<void>((r) => gates.push(r));
        },
      },
    };
    const nodes = await startCluster([[svc], []], { maxInFlightPerPeer: 3 });
    const caller = nodes[1]!;
    try {
      for (let i = 0; i < 5; i++) caller.send('sink.take', { tag: `m${i}` }, { nodeId: 'n1' });
      await waitUntil(() => started.length === 3, 5000, 'three one-way handlers running');
      for (const open of gates.splice(0)) open();
      caller.send('sink.take', { tag: 'after' }, { nodeId: 'n1' });
      await waitUntil(() => started.includes('after'), 5000, 'the message sent after the release to run');
      // m3 and m4 arrived while three were running: dropped, never run later.
      assert.deepEqual(started, ['m0', 'm1', 'm2', 'after']);
    } finally {
      for (const open of gates) open();
      await stopAll(nodes);
    }
  });
});

describe('what one node may announce', () => {
  it('node info with more than MAX_NODE_INFO_ENTRIES services, actions and events is RESOURCE_EXHAUSTED', () => {
    const info = (actions: number) => ({
      id: 'n',
      address: null,
      incarnation: 'i',
      version: 1,
      services: [{ name: 's', actions: Array.from({ length: actions }, (_, i) => `a${i}`), events: [] }],
      meta: {},
    });
    assert.equal(parseNodeInfo(info(MAX_NODE_INFO_ENTRIES - 1)).services[0]!.actions.length, MAX_NODE_INFO_ENTRIES - 1);
    assert.throws(
      () => parseNodeInfo(info(MAX_NODE_INFO_ENTRIES)),
      (e) => ParleyError.is(e, 'RESOURCE_EXHAUSTED') && /at most 65536/.test(e.message),
    );
  });
});
