import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { waitUntil } from '../../base/testing/wait-until.js';
import { type Frame, PacketType, PROTOCOL_VERSION } from '../../wire/frame.js';
import type { HelloBody } from '../../wire/packets.js';
import { ParleyError } from '../../wire/parley-error.js';
import { silentLogger } from '../logger.js';
import { Mesh, type MeshEvents } from '../mesh.js';
import { TcpTransport } from '../tcp-transport.js';
import { FaultInjector } from './fault-injector.js';
import { FaultyTransport } from './faulty-transport.js';

const LIMITS = { maxFrameSize: 1024 * 1024, maxOutboundBytes: 8 * 1024 * 1024 };

interface Recorder extends MeshEvents {
  ups: string[];
  downs: string[];
  frames: { from: string; body: number[]; at: number }[];
}

function recorder(): Recorder {
  const r: Recorder = {
    ups: [],
    downs: [],
    frames: [],
    onPeerUp: (id) => r.ups.push(id),
    onPeerDown: (id) => r.downs.push(id),
    onFrame: (from, frame: Frame) => r.frames.push({ from, body: [...frame.body], at: Date.now() }),
  };
  return r;
}

function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  return waitUntil(condition, timeoutMs, what, 10);
}

function mesh(id: string, faults?: FaultInjector): Mesh {
  let address: string | null = null;
  const m: Mesh = new Mesh({
    localId: id,
    // The decorator is the only place faults live: the mesh sees a lossy, slow network.
    transport: faults
      ? new FaultyTransport(new TcpTransport({ host: '127.0.0.1', port: 0, ...LIMITS }), faults)
      : new TcpTransport({ host: '127.0.0.1', port: 0, ...LIMITS }),
    hello: (): HelloBody => ({
      protocol: PROTOCOL_VERSION,
      codec: 'msgpack',
      maxFrameSize: LIMITS.maxFrameSize,
      node: { id, address: (address ??= m.address), incarnation: `${id}-1`, version: 1, services: [], meta: {} },
    }),
    logger: silentLogger,
    keepaliveIntervalMs: 100,
    idleTimeoutMs: 400,
    handshakeTimeoutMs: 400,
    reconnect: { baseMs: 20, maxMs: 100 },
  });
  return m;
}

const running: Mesh[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

async function pair(faultsOnA: FaultInjector) {
  const a = mesh('a', faultsOnA);
  const b = mesh('b');
  running.push(a, b);
  const ra = recorder();
  const rb = recorder();
  await a.start(ra);
  await b.start(rb);
  await b.connect(a.address!);
  await until(() => ra.ups.includes('b') && rb.ups.includes('a'), 'the handshake');
  return { a, b, ra, rb };
}

describe('FaultyTransport under a mesh', () => {
  it('without rules delivers every frame at once', async () => {
    const { b, ra } = await pair(new FaultInjector());
    for (let i = 0; i < 5; i++) b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([i]));
    await until(() => ra.frames.length === 5, 'five frames');
    assert.deepEqual(
      ra.frames.map((f) => f.body[0]),
      [0, 1, 2, 3, 4],
    );
  });

  it('delays frames from a peer by at least delayMs and keeps their order', async () => {
    const faults = new FaultInjector();
    const { b, ra } = await pair(faults);
    faults.setRules([{ peer: 'b', delayMs: 150 }]);
    const sentAt = Date.now();
    for (let i = 0; i < 20; i++) b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([i]));
    await until(() => ra.frames.filter((f) => f.body.length === 1).length === 20, 'twenty delayed frames');
    const got = ra.frames.filter((f) => f.body.length === 1);
    assert.deepEqual(
      got.map((f) => f.body[0]),
      [...Array(20).keys()],
    );
    assert.ok(got[0]!.at - sentAt >= 150, `first frame arrived after ${got[0]!.at - sentAt} ms, expected >= 150`);
    assert.ok(faults.delayed >= 20);
  });

  it('a cut link drops everything: the idle timeout takes the peer down, and it comes back once healed', async () => {
    const faults = new FaultInjector();
    const { b, ra } = await pair(faults);
    faults.setRules([{ peer: 'b', drop: 1 }]);
    await until(() => ra.downs.includes('b'), 'a to declare b down (nothing received)');
    try {
      b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([42]));
    } catch {
      // b may already have lost the connection too
    }
    assert.ok(faults.dropped > 0);
    assert.equal(
      ra.frames.some((f) => f.body[0] === 42),
      false,
    );
    faults.setRules([]);
    await until(() => ra.ups.filter((id) => id === 'b').length === 2, 'b to be back after the heal');
    await until(() => {
      try {
        b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([7]));
      } catch {
        return false;
      }
      return true;
    }, 'b to send again');
    await until(() => ra.frames.some((f) => f.body[0] === 7), 'a frame after the heal');
  });

  it('drops a fraction of frames, decided by the injected random source', async () => {
    let i = 0;
    const faults = new FaultInjector({ random: () => (i++ % 2 === 0 ? 0.1 : 0.9) });
    const { b, ra } = await pair(faults);
    faults.setRules([{ peer: 'b', drop: 0.5 }]);
    for (let k = 0; k < 10; k++) b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([k]));
    b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([99]));
    await until(() => ra.frames.length >= 5 && faults.dropped >= 5, 'half of the frames');
    faults.setRules([]);
    b.send('a', PacketType.ONEWAY, 0, 0, new Uint8Array([100]));
    await until(() => ra.frames.some((f) => f.body[0] === 100), 'the frame after the rule is gone');
    assert.deepEqual(
      ra.frames.map((f) => f.body[0]).filter((x) => x !== undefined && x < 10),
      [1, 3, 5, 7, 9],
    );
  });
});

describe('FaultInjector rules', () => {
  it('refuses malformed rules with INVALID_ARGUMENT and keeps the previous ones', () => {
    const faults = new FaultInjector();
    faults.setRules([{ peer: 'n2', drop: 1 }]);
    for (const bad of [
      [{ peer: '', drop: 1 }],
      [{ peer: 'n3', drop: 2 }],
      [{ peer: 'n3', delayMs: -1 }],
      [{ peer: 'n3' }, { peer: 'n3', drop: 1 }],
    ]) {
      assert.throws(
        () => faults.setRules(bad),
        (err: unknown) => err instanceof ParleyError && err.code === 'INVALID_ARGUMENT',
      );
    }
    assert.deepEqual(faults.rules(), [{ peer: 'n2', drop: 1, delayMs: 0 }]);
  });

  it('does not deliver a delayed frame once its connection has closed', async () => {
    const faults = new FaultInjector();
    faults.setRules([{ peer: 'x', delayMs: 20 }]);
    let firstOpen = true;
    const delivered: number[] = [];
    const frame = (n: number): Frame => ({
      version: PROTOCOL_VERSION,
      type: PacketType.ONEWAY,
      flags: 0,
      stream: 0,
      body: new Uint8Array([n]),
    });
    const deliver = (f: Frame) => delivered.push(f.body[0]!);
    assert.equal(
      faults.intercept('x', frame(1), deliver, () => firstOpen),
      true,
    );
    assert.equal(
      faults.intercept('y', frame(9), deliver, () => true),
      false,
      'other peers pass through',
    );
    firstOpen = false;
    // A frame on a newer connection from the same peer queues behind the first one.
    assert.equal(
      faults.intercept('x', frame(2), deliver, () => true),
      true,
    );
    await until(() => delivered.length > 0, 'the second frame');
    assert.deepEqual(delivered, [2]);
  });
});
