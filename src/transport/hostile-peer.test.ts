/**
 * Attacks a hostile or careless peer can make on the transport, each reproduced against a real
 * Mesh over real TCP with a raw socket speaking the wire protocol. Each used to crash the process
 * or hold unbounded memory; each must now cost only the attacker's own connection.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { jsonCodec } from '../wire/codec.js';
import { encodeFrame, type Frame, FrameFlag, HEADER_SIZE, PacketType, PROTOCOL_VERSION } from '../wire/frame.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import type { GoodbyeBody, HelloBody } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import { type BudgetHolder, InboundBudget } from './inbound-budget.js';
import type { Logger } from './logger.js';
import { MAX_PING_BODY, Mesh, type MeshEvents } from './mesh.js';
import { TcpTransport } from './tcp-transport.js';

const LIMITS = { maxFrameSize: 4 * 1024 * 1024, maxOutboundBytes: 256 * 1024, maxFirstFrameSize: 16 * 1024 };

function hello(id: string, address: string | null): HelloBody {
  return {
    protocol: PROTOCOL_VERSION,
    codec: 'msgpack',
    maxFrameSize: LIMITS.maxFrameSize,
    node: { id, address, incarnation: `${id}-1`, version: 1, services: [], meta: {} },
  };
}

const helloFrame = (id: string) => encodeFrame(PacketType.HELLO, FrameFlag.JSON, 0, jsonCodec.encode(hello(id, null)));

/** A frame header announcing `bodyLength` bytes, without the body. */
function header(type: number, bodyLength: number): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32BE(HEADER_SIZE - 4 + bodyLength, 0);
  h[4] = PROTOCOL_VERSION;
  h[5] = type;
  return h;
}

interface Lines extends Logger {
  readonly lines: string[];
}

function recordingLogger(): Lines {
  const lines: string[] = [];
  const add = (level: string) => (m: string) => lines.push(`${level} ${m}`);
  return { lines, debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') };
}

const events: MeshEvents = { onPeerUp() {}, onPeerDown() {}, onFrame() {} };

/** A raw TCP client: what a hostile peer does. Records the frames it reads and the close. */
async function rawClient(address: string) {
  const [host, port] = address.split(':');
  const socket = net.connect({ host: host!, port: Number(port) });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  socket.on('data', (chunk) => {
    try {
      frames.push(...decoder.push(chunk).map((f) => ({ ...f, body: f.body.slice() })));
    } catch {
      // the test looks at what arrived before
    }
  });
  socket.on('error', () => {});
  let isClosed = false;
  const closed = new Promise<void>((r) =>
    socket.once('close', () => {
      isClosed = true;
      r();
    }),
  );
  const goodbye = (): GoodbyeBody | undefined => {
    const f = frames.find((x) => x.type === PacketType.GOODBYE);
    return f ? (jsonCodec.decode(f.body) as GoodbyeBody) : undefined;
  };
  return { socket, frames, closed, goodbye, isClosed: () => isClosed };
}

describe('a hostile peer costs only its own connection', () => {
  let mesh: Mesh;
  let friend: Mesh;
  const log = recordingLogger();
  const budget = new InboundBudget(3 * 1024 * 1024);
  let received = 0;

  before(async () => {
    let address: string | null = null;
    mesh = new Mesh({
      localId: 'victim',
      transport: new TcpTransport({ host: '127.0.0.1', port: 0, ...LIMITS, inboundBudget: budget }),
      hello: () => hello('victim', (address ??= mesh.address)),
      logger: log,
    });
    await mesh.start({ ...events, onFrame: () => received++ });
    friend = new Mesh({
      localId: 'friend',
      transport: new TcpTransport({ host: '127.0.0.1', port: null, ...LIMITS }),
      hello: () => hello('friend', null),
      logger: recordingLogger(),
    });
    await friend.start(events);
    await friend.connect(mesh.address!);
  });

  after(async () => {
    await friend.stop();
    await mesh.stop();
  });

  /** The victim still takes frames from a well-behaved peer. */
  async function stillServing(): Promise<void> {
    const before = received;
    friend.send('victim', PacketType.ONEWAY, 0, 0, new Uint8Array([1]));
    await waitUntil(() => received > before, 5000, 'the victim to take a frame from a well-behaved peer');
  }

  it('answers nothing before HELLO: a PING is a protocol violation, not a PONG', async () => {
    const raw = await rawClient(mesh.address!);
    raw.socket.write(encodeFrame(PacketType.PING, 0, 1, new Uint8Array(8)));
    await raw.closed;
    assert.ok(!raw.frames.some((f) => f.type === PacketType.PONG), 'no PONG before the handshake');
    assert.equal(raw.goodbye()?.code, 'INVALID_ARGUMENT');
    assert.match(raw.goodbye()!.reason, /PING before HELLO/);
    await stillServing();
  });

  it('refuses a PING body larger than MAX_PING_BODY (the 1 MiB PING flood)', async () => {
    const raw = await rawClient(mesh.address!);
    raw.socket.write(helloFrame('pinger'));
    raw.socket.write(encodeFrame(PacketType.PING, 0, 1, new Uint8Array(MAX_PING_BODY)));
    raw.socket.write(encodeFrame(PacketType.PING, 0, 2, new Uint8Array(1024 * 1024)));
    await raw.closed;
    const pongs = raw.frames.filter((f) => f.type === PacketType.PONG);
    assert.deepEqual(
      pongs.map((p) => p.stream),
      [1],
      'the small PING was answered, the large one not',
    );
    assert.equal(raw.goodbye()?.code, 'INVALID_ARGUMENT');
    await stillServing();
  });

  it('drops a peer that sends PINGs and never reads, instead of crashing on a full outbound queue', async () => {
    const raw = await rawClient(mesh.address!);
    raw.socket.write(helloFrame('no-reader'));
    raw.socket.pause(); // never reads again: PONGs pile up on the victim's side
    const ping = encodeFrame(PacketType.PING, 0, 0, new Uint8Array(MAX_PING_BODY));
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => ping));
    // Before the fix the PONG send threw RESOURCE_EXHAUSTED out of the socket's data handler:
    // an uncaught exception that killed the process (and fails this test run).
    // 128 MiB of PINGs is far beyond what the victim queues (256 KiB) plus socket buffers.
    for (let sent = 0; !raw.isClosed() && sent < 128 * 1024 * 1024; sent += burst.length) {
      if (!raw.socket.write(burst)) {
        const drained = new Promise((r) => raw.socket.once('drain', r));
        await Promise.race([drained, raw.closed, new Promise((r) => setTimeout(r, 1000))]);
      }
    }
    assert.ok(raw.isClosed(), 'the victim closed the connection of the peer that does not read');
    await waitUntil(
      () => log.lines.some((l) => /^warn dropping the connection to 'no-reader'.*does not read/.test(l)),
      5000,
      'the log line that says why the peer was dropped',
    );
    assert.equal(mesh.isConnected('no-reader'), false);
    await stillServing();
  });

  it('holds an unfinished frame before the handshake to the first-frame limit (no megabytes of partial frames)', async () => {
    const raw = await rawClient(mesh.address!);
    raw.socket.write(Buffer.concat([header(PacketType.HELLO, 2 * 1024 * 1024), Buffer.alloc(4096)]));
    await raw.closed;
    assert.equal(raw.goodbye()?.code, 'RESOURCE_EXHAUSTED');
    assert.match(raw.goodbye()!.reason, /before the handshake/);
    assert.equal(budget.heldBytes, 0);
    await stillServing();
  });

  it('bounds unfinished frames across connections: the oldest is closed when the sum passes the budget', async () => {
    const peers = [];
    for (let i = 0; i < 3; i++) {
      const raw = await rawClient(mesh.address!);
      raw.socket.write(helloFrame(`hoarder-${i}`));
      await waitUntil(() => mesh.isConnected(`hoarder-${i}`), 5000, `hoarder-${i} handshaken`);
      // 1 MiB (and the header) of a 3 MiB frame, never finished.
      raw.socket.write(Buffer.concat([header(PacketType.ONEWAY, 3 * 1024 * 1024), Buffer.alloc(1024 * 1024)]));
      peers.push(raw);
      if (i < 2)
        await waitUntil(() => budget.heldBytes > (i + 1) * 1024 * 1024, 5000, `hoarder-${i}'s bytes to arrive`);
      assert.ok(budget.heldBytes <= budget.maxBytes, `held ${budget.heldBytes} bytes`);
    }
    // The third pushed the sum past 3 MiB: the first (the oldest unfinished frame) was closed.
    await peers[0]!.closed;
    assert.equal(peers[0]!.goodbye()?.code, 'RESOURCE_EXHAUSTED');
    assert.equal(peers[1]!.isClosed(), false);
    assert.equal(peers[2]!.isClosed(), false);
    for (const p of peers) p.socket.destroy();
    await waitUntil(() => budget.heldBytes === 0, 5000, 'closed connections to release their bytes');
    await stillServing();
  });
});

describe('a peer that sends but never reads', () => {
  /** A mesh, a raw peer that keeps talking (so it never looks silent), and an outbound queue filled towards it. */
  async function filledQueue() {
    const log = recordingLogger();
    let address: string | null = null;
    const mesh: Mesh = new Mesh({
      localId: 'sender',
      transport: new TcpTransport({ host: '127.0.0.1', port: 0, ...LIMITS }),
      hello: () => hello('sender', (address ??= mesh.address)),
      logger: log,
      keepaliveIntervalMs: 100,
      idleTimeoutMs: 500,
    });
    await mesh.start(events);
    const raw = await rawClient(mesh.address!);
    const chatter = setInterval(() => raw.socket.write(encodeFrame(PacketType.ONEWAY, 0, 0, new Uint8Array(1))), 50);
    raw.socket.write(helloFrame('deaf'));
    raw.socket.pause();
    await waitUntil(() => mesh.isConnected('deaf'), 5000, 'the handshake');
    let full = false;
    for (let sent = 0; !full && sent < 256 * 1024 * 1024; sent += 64 * 1024) {
      try {
        mesh.send('deaf', PacketType.ONEWAY, 0, 0, new Uint8Array(64 * 1024));
      } catch (err) {
        assert.ok(err instanceof ParleyError && err.code === 'RESOURCE_EXHAUSTED', String(err));
        full = true;
      }
      if (sent % (4 * 1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
    }
    assert.ok(full, 'the outbound queue filled up');
    const done = async () => {
      clearInterval(chatter);
      raw.socket.destroy();
      await mesh.stop();
    };
    return { mesh, raw, log, done };
  }

  it('is dropped once the outbound queue towards it has stayed full for the idle timeout', async () => {
    const { mesh, raw, log, done } = await filledQueue();
    try {
      await raw.closed;
      assert.equal(mesh.isConnected('deaf'), false);
      assert.ok(
        log.lines.some((l) => /^warn dropping the connection to 'deaf'.*does not read/.test(l)),
        log.lines.join('\n'),
      );
    } finally {
      await done();
    }
  });

  it('a peer that was slow but reads again is kept', async () => {
    const { mesh, raw, done } = await filledQueue();
    try {
      raw.socket.resume();
      // Longer than the idle timeout: a peer that never read would be gone by now.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(raw.isClosed(), false);
      assert.equal(mesh.isConnected('deaf'), true);
    } finally {
      await done();
    }
  });
});

describe('InboundBudget', () => {
  const holder = (evicted: string[], name: string): BudgetHolder & { name: string } => ({
    name,
    evict: () => evicted.push(name),
  });

  it('evicts the holder whose unfinished frame started first, until the sum fits', () => {
    const evicted: string[] = [];
    const budget = new InboundBudget(100);
    const [a, b, c] = [holder(evicted, 'a'), holder(evicted, 'b'), holder(evicted, 'c')];
    budget.update(a, 40);
    budget.update(b, 40);
    budget.update(a, 50); // a grows; it still started first
    assert.deepEqual(evicted, []);
    budget.update(c, 30);
    assert.deepEqual(evicted, ['a']);
    assert.equal(budget.heldBytes, 70);
    budget.release(b);
    budget.update(b, 60); // b's new frame starts after c's
    budget.update(c, 50);
    assert.deepEqual(evicted, ['a', 'c']);
    assert.equal(budget.heldBytes, 60);
  });
});
