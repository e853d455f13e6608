import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { jsonCodec } from '../wire/codec.js';
import { encodeFrame, type Frame, FrameFlag, PacketType, PROTOCOL_VERSION } from '../wire/frame.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import type { HelloBody } from '../wire/packets.js';
import { silentLogger } from './logger.js';
import { MemoryNetwork, MemoryTransport } from './memory-transport.js';
import { Mesh, type MeshEvents } from './mesh.js';
import { TcpTransport } from './tcp-transport.js';

const LIMITS = { maxFrameSize: 1024 * 1024, maxOutboundBytes: 8 * 1024 * 1024 };

function hello(id: string, address: string | null, incarnation = `${id}-1`): HelloBody {
  return {
    protocol: PROTOCOL_VERSION,
    codec: 'msgpack',
    maxFrameSize: LIMITS.maxFrameSize,
    node: { id, address, incarnation, version: 1, services: [], meta: {} },
  };
}

interface Recorder extends MeshEvents {
  ups: string[];
  downs: { id: string; graceful: boolean; reason: string }[];
  frames: { from: string; frame: Frame }[];
}

function recorder(): Recorder {
  const r: Recorder = {
    ups: [],
    downs: [],
    frames: [],
    onPeerUp: (id) => r.ups.push(id),
    onPeerDown: (id, graceful, reason) => r.downs.push({ id, graceful, reason }),
    onFrame: (from, frame) => r.frames.push({ from, frame: { ...frame, body: frame.body.slice() } }),
  };
  return r;
}

function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return waitUntil(condition, timeoutMs, what);
}

function tcpMesh(id: string, options: Partial<ConstructorParameters<typeof Mesh>[0]> = {}): Mesh {
  let address: string | null = null;
  const mesh: Mesh = new Mesh({
    localId: id,
    transport: new TcpTransport({ host: '127.0.0.1', port: 0, ...LIMITS }),
    hello: () => hello(id, (address ??= mesh.address)),
    logger: silentLogger,
    ...options,
  });
  return mesh;
}

/** A raw TCP client: what a misbehaving peer would do. */
async function rawClient(address: string): Promise<{ socket: net.Socket; frames: Frame[]; closed: Promise<void> }> {
  const [host, port] = address.split(':');
  const socket = net.connect({ host: host!, port: Number(port) });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(LIMITS.maxFrameSize);
  socket.on('data', (chunk) => {
    try {
      frames.push(...decoder.push(chunk).map((f) => ({ ...f, body: f.body.slice() })));
    } catch {
      // the test looks at what arrived before
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, frames, closed };
}

describe('Mesh over TCP', () => {
  let a: Mesh;
  let b: Mesh;
  const ra = recorder();
  const rb = recorder();
  before(async () => {
    a = tcpMesh('a');
    b = tcpMesh('b');
    await a.start(ra);
    await b.start(rb);
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });

  it('handshakes and delivers frames both ways by node id', async () => {
    assert.equal(await b.connect(a.address!), 'a');
    await until(() => ra.ups.includes('b'), 'a to see b');
    a.send('b', PacketType.ONEWAY, 0, 0, new Uint8Array([1]));
    b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([2]));
    await until(() => ra.frames.length === 1 && rb.frames.length === 1, 'frames');
    assert.deepEqual([...rb.frames[0]!.frame.body], [1]);
    assert.equal(ra.frames[0]!.from, 'b');
  });

  it('closes a connection that sends garbage, tells it why, and keeps serving others', async () => {
    const raw = await rawClient(a.address!);
    raw.socket.write(Buffer.from([0, 0, 0, 9, 77, 1, 0, 0, 0, 0, 0, 1, 2]));
    await raw.closed;
    const goodbye = raw.frames.find((f) => f.type === PacketType.GOODBYE);
    assert.ok(goodbye, 'the peer got a GOODBYE before the close');
    assert.match((jsonCodec.decode(goodbye.body) as { reason: string }).reason, /version 77/);
    ra.frames.length = 0;
    b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([3]));
    await until(() => ra.frames.length === 1, 'the healthy connection still works');
  });

  it('refuses an oversized length prefix without reading the body', async () => {
    const raw = await rawClient(a.address!);
    const header = Buffer.alloc(11);
    header.writeUInt32BE(512 * 1024 * 1024, 0);
    header[4] = PROTOCOL_VERSION;
    header[5] = PacketType.REQUEST;
    raw.socket.write(header);
    await raw.closed;
    const goodbye = raw.frames.find((f) => f.type === PacketType.GOODBYE);
    assert.match((jsonCodec.decode(goodbye!.body) as { reason: string }).reason, /maximum frame size/);
    assert.equal((jsonCodec.decode(goodbye!.body) as { code: string }).code, 'RESOURCE_EXHAUSTED');
  });

  it('refuses requests sent before HELLO', async () => {
    const raw = await rawClient(a.address!);
    raw.socket.write(encodeFrame(PacketType.REQUEST, 0, 1, new Uint8Array([0x90])));
    await raw.closed;
    const goodbye = raw.frames.find((f) => f.type === PacketType.GOODBYE);
    assert.match((jsonCodec.decode(goodbye!.body) as { reason: string }).reason, /before HELLO/);
  });

  it('refuses a HELLO of another protocol version with FAILED_PRECONDITION', async () => {
    const raw = await rawClient(a.address!);
    const h = { ...hello('old', null), protocol: 0 };
    raw.socket.write(encodeFrame(PacketType.HELLO, FrameFlag.JSON, 0, jsonCodec.encode(h)));
    await raw.closed;
    const body = jsonCodec.decode(raw.frames.find((f) => f.type === PacketType.GOODBYE)!.body) as {
      code: string;
      reason: string;
    };
    assert.equal(body.code, 'FAILED_PRECONDITION');
    assert.match(body.reason, /protocol 0/);
  });

  it('answers PING with PONG carrying the same body', async () => {
    const raw = await rawClient(a.address!);
    raw.socket.write(encodeFrame(PacketType.HELLO, FrameFlag.JSON, 0, jsonCodec.encode(hello('pinger', null))));
    raw.socket.write(encodeFrame(PacketType.PING, 0, 42, new Uint8Array([7, 8])));
    await until(() => raw.frames.some((f) => f.type === PacketType.PONG), 'PONG');
    const pong = raw.frames.find((f) => f.type === PacketType.PONG)!;
    assert.equal(pong.stream, 42);
    assert.deepEqual([...pong.body], [7, 8]);
    raw.socket.destroy();
  });
});

describe('Mesh liveness and duplicates', () => {
  it('a stall of this process longer than the idle timeout does not drop healthy peers', async () => {
    const a = tcpMesh('a', { keepaliveIntervalMs: 50, idleTimeoutMs: 200 });
    const b = tcpMesh('b', { keepaliveIntervalMs: 50, idleTimeoutMs: 200 });
    const ra = recorder();
    const rb = recorder();
    await a.start(ra);
    await b.start(rb);
    try {
      await a.connect(b.address!);
      await until(() => ra.ups.includes('b') && rb.ups.includes('a'), 'handshake');
      await new Promise((r) => setTimeout(r, 120)); // a few keepalive rounds
      const end = Date.now() + 700; // blocks both meshes' timers and sockets for 3.5 idle timeouts
      while (Date.now() < end) {}
      await new Promise((r) => setTimeout(r, 400)); // the late ticks, then the ones after the reads
      assert.deepEqual(ra.downs, [], 'a kept b');
      assert.deepEqual(rb.downs, [], 'b kept a');
      assert.ok(a.isConnected('b') && b.isConnected('a'));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('closes a connection whose peer went silent and reports the peer down', async () => {
    const a = tcpMesh('a', { keepaliveIntervalMs: 50, idleTimeoutMs: 200 });
    const ra = recorder();
    await a.start(ra);
    try {
      const raw = await rawClient(a.address!);
      raw.socket.write(encodeFrame(PacketType.HELLO, FrameFlag.JSON, 0, jsonCodec.encode(hello('mute', null))));
      await until(() => ra.ups.includes('mute'), 'handshake');
      // The raw client never answers PINGs.
      await raw.closed;
      assert.ok(
        raw.frames.some((f) => f.type === PacketType.PING),
        'it was pinged first',
      );
      await until(
        () => ra.downs.some((d) => d.id === 'mute' && !d.graceful && /unresponsive/.test(d.reason)),
        'peer down',
      );
    } finally {
      await a.stop();
    }
  });

  it('two nodes dialing each other at once converge on one connection and keep working', async () => {
    const network = new MemoryNetwork();
    const make = (id: string) => {
      let address: string | null = null;
      const transport = new MemoryTransport(network, LIMITS);
      const mesh: Mesh = new Mesh({
        localId: id,
        transport,
        hello: () => hello(id, (address ??= mesh.address)),
        logger: silentLogger,
      });
      return mesh;
    };
    const a = make('a');
    const b = make('b');
    const ra = recorder();
    const rb = recorder();
    await a.start(ra);
    await b.start(rb);
    try {
      const [ab, ba] = await Promise.all([a.connect(b.address!), b.connect(a.address!)]);
      assert.deepEqual([ab, ba], ['b', 'a']);
      for (let i = 0; i < 20; i++) {
        a.send('b', PacketType.ONEWAY, 0, 0, new Uint8Array([i]));
        b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([i]));
        await new Promise((r) => setTimeout(r, 100));
      }
      await until(() => ra.frames.length === 20 && rb.frames.length === 20, 'all frames');
      assert.deepEqual(ra.ups, ['b']);
      assert.deepEqual(rb.ups, ['a']);
      assert.deepEqual(ra.downs, [], 'closing the duplicate did not take the peer down');
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a stopping mesh reports its peers down as graceful and redials nobody', async () => {
    const network = new MemoryNetwork();
    const make = (id: string) => {
      let address: string | null = null;
      const mesh: Mesh = new Mesh({
        localId: id,
        transport: new MemoryTransport(network, LIMITS),
        hello: () => hello(id, (address ??= mesh.address)),
        logger: silentLogger,
      });
      return mesh;
    };
    const a = make('a');
    const b = make('b');
    const ra = recorder();
    await a.start(ra);
    await b.start(recorder());
    try {
      await a.connect(b.address!);
      await a.stop();
      await until(() => ra.downs.length === 1, 'the down event');
      assert.deepEqual(
        ra.downs.map((d) => [d.id, d.graceful]),
        [['b', true]],
      );
    } finally {
      await b.stop();
    }
  });

  it('redials a lost peer and reports it up again', async () => {
    const network = new MemoryNetwork();
    const meshes: Mesh[] = [];
    const make = (id: string) => {
      let address: string | null = null;
      const mesh: Mesh = new Mesh({
        localId: id,
        transport: new MemoryTransport(network, LIMITS),
        hello: () => hello(id, (address ??= mesh.address)),
        logger: silentLogger,
        reconnect: { baseMs: 5, maxMs: 20 },
      });
      meshes.push(mesh);
      return mesh;
    };
    const a = make('a');
    const b = make('b');
    const ra = recorder();
    await a.start(ra);
    await b.start(recorder());
    try {
      await a.connect(b.address!);
      network.partition(a.address!, b.address!);
      await until(() => ra.downs.length === 1, 'down');
      network.heal();
      await until(() => ra.ups.length === 2 && a.isConnected('b'), 'up again');
    } finally {
      for (const m of meshes) await m.stop();
    }
  });
});
