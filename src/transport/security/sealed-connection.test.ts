/**
 * SealedConnection against an active attacker: two sealed ends joined through a man in the middle
 * (two MemoryNetwork connections and a relay that may replay, flip, cut, move, reorder or inject
 * frames). Each attack must close the receiving end with a ParleyError naming what failed, deliver
 * nothing it could not open, and throw nothing into the transport. `sendEach` flushes after every
 * frame so that each travels in its own SEALED frame; `send` lets a tick's frames share one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { waitUntil } from '../../base/testing/wait-until.js';
import { type Frame, FrameFlag, PacketType } from '../../wire/frame.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { Connection, ConnectionHandlers } from '../connection.js';
import { MemoryNetwork } from '../memory-transport.js';
import { TcpTransport } from '../tcp-transport.js';
import { FrameSealer, SEAL_OVERHEAD } from './frame-sealer.js';
import { isSealError, type SealErrorReason } from './seal-error.js';
import { SEALED_FRAME_OVERHEAD, SealedConnection, type SealedConnectionOptions } from './sealed-connection.js';
import { deriveSessionKeys, generateEphemeral, type SessionKeys } from './session-keys.js';

const LIMITS = { maxFrameSize: 4096, maxOutboundBytes: 1 << 20 };

interface Received {
  frames: { type: number; flags: number; stream: number; body: string }[];
  closes: (Error | undefined)[];
}

function listen(c: Connection): Received {
  const r: Received = { frames: [], closes: [] };
  c.setHandlers({
    onFrame: (f) =>
      r.frames.push({ type: f.type, flags: f.flags, stream: f.stream, body: Buffer.from(f.body).toString() }),
    onClose: (e) => r.closes.push(e),
  });
  return r;
}

function sessionKeys(): { dialer: SessionKeys; listener: SessionKeys } {
  const a = generateEphemeral();
  const b = generateEphemeral();
  const transcript = new TextEncoder().encode('test transcript');
  return {
    dialer: deriveSessionKeys(a, b.publicKey, transcript, true),
    listener: deriveSessionKeys(b, a.publicKey, transcript, false),
  };
}

type Relay = (frame: Frame, forward: (type: number, flags: number, stream: number, body: Uint8Array) => void) => void;

/**
 * alice (sealed) ⇄ [m1 | relay | m2] ⇄ bob (sealed). Frames alice sends pass through `relay`
 * (which forwards them, changed or not, any number of times); frames bob sends go straight back.
 */
function mitm(relay: Relay, options: SealedConnectionOptions = {}) {
  const limits = { ...LIMITS, maxFrameSize: options.maxFrameSize ?? LIMITS.maxFrameSize };
  const network = new MemoryNetwork();
  let m1: Connection | undefined;
  let bobInner: Connection | undefined;
  const relayAddress = network.register((c) => (m1 = c));
  const bobAddress = network.register((c) => (bobInner = c));
  const aliceInner = network.connect('alice', relayAddress, limits);
  const m2 = network.connect('relay', bobAddress, limits);
  const alice = new SealedConnection(aliceInner, { ...limits, ...options });
  const bob = new SealedConnection(bobInner!, { ...limits, ...options });
  const forward = (type: number, flags: number, stream: number, body: Uint8Array) => {
    if (!m2.closed) m2.send(type as PacketType, flags, stream, body);
  };
  m1!.setHandlers({ onFrame: (f) => relay(f, forward), onClose: () => m2.close() });
  m2.setHandlers({
    onFrame: (f) => {
      if (!m1!.closed) m1!.send(f.type, f.flags, f.stream, f.body);
    },
    onClose: () => m1!.close(),
  });
  const keys = sessionKeys();
  const seal = () => {
    alice.sealOutbound(keys.dialer);
    alice.openInbound(keys.dialer);
    bob.sealOutbound(keys.listener);
    bob.openInbound(keys.listener);
  };
  return { alice, bob, aliceReceived: listen(alice), bobReceived: listen(bob), seal, keys };
}

const honest: Relay = (f, forward) => forward(f.type, f.flags, f.stream, f.body);

function send(c: Connection, ...bodies: string[]): void {
  for (const [i, b] of bodies.entries()) c.send(PacketType.ONEWAY, 0, i + 1, Buffer.from(b));
}

/** One SEALED frame per body (stream ids 1, 2, …), so a relay can act on each. */
function sendEach(c: Connection, ...bodies: string[]): void {
  for (const [i, b] of bodies.entries()) {
    c.send(PacketType.ONEWAY, 0, i + 1, Buffer.from(b));
    c.flush();
  }
}

/** The relay sees SEALED frames with stream 0; it counts them to pick one. */
function nth(n: number, act: (f: Frame) => Frame | undefined): Relay {
  let seen = 0;
  return (f, forward) => {
    const g = f.type === PacketType.SEALED && ++seen === n ? act({ ...f, body: f.body.slice() }) : f;
    if (g) forward(g.type, g.flags, g.stream, g.body);
  };
}

async function closedWith(r: Received, reason: SealErrorReason): Promise<void> {
  await waitUntil(() => r.closes.length > 0, 5000, 'the sealed end to close');
  assert.equal(r.closes.length, 1);
  const error = r.closes[0];
  assert.ok(isSealError(error, reason), `expected reason ${reason}, got ${String(error)}`);
  assert.ok(error instanceof ParleyError);
  assert.match(error.message, new RegExp(`failed to open \\(${reason}\\)`));
}

describe('SealedConnection', () => {
  it('round trips: clear before the switch; after it, a tick of frames travels as one SEALED frame', async () => {
    const seenOnWire: Frame[] = [];
    const t = mitm((f, forward) => {
      seenOnWire.push({ ...f, body: f.body.slice() });
      forward(f.type, f.flags, f.stream, f.body);
    });
    t.alice.send(PacketType.HELLO, FrameFlag.JSON, 0, Buffer.from('{"hello":1}'));
    await waitUntil(() => t.bobReceived.frames.length === 1);
    t.seal();
    send(t.alice, 'secret one', 'secret two');
    t.bob.send(PacketType.RESPONSE, FrameFlag.ERROR, 7, Buffer.from('reply'));
    await waitUntil(() => t.bobReceived.frames.length === 3 && t.aliceReceived.frames.length === 1);
    assert.deepEqual(t.bobReceived.frames, [
      { type: PacketType.HELLO, flags: FrameFlag.JSON, stream: 0, body: '{"hello":1}' },
      { type: PacketType.ONEWAY, flags: 0, stream: 1, body: 'secret one' },
      { type: PacketType.ONEWAY, flags: 0, stream: 2, body: 'secret two' },
    ]);
    assert.deepEqual(t.aliceReceived.frames, [
      { type: PacketType.RESPONSE, flags: FrameFlag.ERROR, stream: 7, body: 'reply' },
    ]);
    assert.deepEqual(
      seenOnWire.map((f) => [f.type, f.flags, f.stream]),
      [
        [PacketType.HELLO, FrameFlag.JSON, 0],
        [PacketType.SEALED, 0, 0],
      ],
    );
    assert.equal(Buffer.from(seenOnWire[0]!.body).toString(), '{"hello":1}');
    const sealed = seenOnWire[1]!.body;
    assert.equal(sealed.length, 2 * (11 + 'secret one'.length) + SEAL_OVERHEAD);
    assert.ok(!Buffer.from(sealed).includes('secret'));
    assert.deepEqual(t.bobReceived.closes, []);
  });

  it('many frames in one tick are sealed in batches of at most 64 KiB, in order', async () => {
    let sealedFrames = 0;
    const t = mitm(
      (f, forward) => {
        sealedFrames++;
        forward(f.type, f.flags, f.stream, f.body);
      },
      { maxFrameSize: 1 << 20 },
    );
    t.seal();
    const body = 'x'.repeat(989); // 1000 bytes encoded
    for (let i = 0; i < 200; i++) t.alice.send(PacketType.EVENT, 0, i, Buffer.from(body));
    await waitUntil(() => t.bobReceived.frames.length === 200);
    assert.deepEqual(
      t.bobReceived.frames.map((f) => f.stream),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal(sealedFrames, Math.ceil(200 / 66)); // 66 frames pass the 64 KiB threshold
  });

  it('frames after the switch in the same received chunk must already open', async () => {
    const t = mitm(honest);
    const keys = t.keys;
    // bob switches to opening inside the handler of the clear HELLO; alice sends the HELLO and
    // sealed frames in one tick, so they arrive in one chunk.
    t.bob.setHandlers({
      onFrame: (f) => {
        if (f.type === PacketType.HELLO) t.bob.openInbound(keys.listener);
        t.bobReceived.frames.push({
          type: f.type,
          flags: f.flags,
          stream: f.stream,
          body: Buffer.from(f.body).toString(),
        });
      },
      onClose: (e) => t.bobReceived.closes.push(e),
    });
    t.alice.send(PacketType.HELLO, FrameFlag.JSON, 0, Buffer.from('{}'));
    t.alice.sealOutbound(keys.dialer);
    send(t.alice, 'a', 'b');
    await waitUntil(() => t.bobReceived.frames.length === 3);
    assert.deepEqual(
      t.bobReceived.frames.map((f) => f.body),
      ['{}', 'a', 'b'],
    );
  });

  it('a replayed sealed frame closes the connection (replayed) and is not delivered twice', async () => {
    const t = mitm((f, forward) => {
      forward(f.type, f.flags, f.stream, f.body);
      forward(f.type, f.flags, f.stream, f.body);
    });
    t.seal();
    send(t.alice, 'pay 10');
    await closedWith(t.bobReceived, 'replayed');
    assert.deepEqual(
      t.bobReceived.frames.map((f) => f.body),
      ['pay 10'],
    );
    assert.throws(
      () => send(t.bob, 'x'),
      (e) => ParleyError.is(e, 'UNAVAILABLE'),
    );
  });

  for (const [what, change] of [
    ['the ciphertext', (b: Uint8Array) => (b[10]! ^= 0x80)],
    ['the tag', (b: Uint8Array) => (b[b.length - 1]! ^= 0x01)],
    ['the counter', (b: Uint8Array) => (b[6]! ^= 0x01)],
  ] as const) {
    it(`a flipped bit in ${what} closes the connection`, async () => {
      const t = mitm(
        nth(2, (f) => {
          change(f.body);
          return f;
        }),
      );
      t.seal();
      sendEach(t.alice, 'first frame', 'second frame', 'third frame');
      // A flipped counter bit reads as a skip on an ordered stream; the rest as a forgery.
      await closedWith(t.bobReceived, what === 'the counter' ? 'out-of-order' : 'tampered');
      assert.deepEqual(
        t.bobReceived.frames.map((f) => f.body),
        ['first frame'],
      );
    });
  }

  for (const [what, change, reason] of [
    ['its stream id', (f: Frame) => ({ ...f, stream: 1 }), 'tampered'],
    ['its flags', (f: Frame) => ({ ...f, flags: FrameFlag.JSON }), 'tampered'],
    ['its packet type', (f: Frame) => ({ ...f, type: PacketType.EVENT }), 'unsealed'],
  ] as const) {
    it(`a SEALED frame with ${what} changed (the AAD) closes the connection (${reason})`, async () => {
      const t = mitm(nth(1, change));
      t.seal();
      send(t.alice, 'move me');
      await closedWith(t.bobReceived, reason);
      assert.deepEqual(t.bobReceived.frames, []);
    });
  }

  it('a truncated tag closes the connection (tampered); a body shorter than 24 bytes (truncated)', async () => {
    const cut = mitm((f, forward) => forward(f.type, f.flags, f.stream, f.body.subarray(0, f.body.length - 4)));
    cut.seal();
    send(cut.alice, 'sixteen bytes!!!');
    await closedWith(cut.bobReceived, 'tampered');
    const short = mitm((f, forward) => forward(f.type, f.flags, f.stream, f.body.subarray(0, 20)));
    short.seal();
    send(short.alice, 'x');
    await closedWith(short.bobReceived, 'truncated');
  });

  it('an unsealed frame after openInbound closes the connection and is not delivered', async () => {
    const t = mitm((f, forward) => {
      forward(PacketType.EVENT, 0, 0, Buffer.from('{"event":"injected by the relay, not sealed at all"}'));
      forward(f.type, f.flags, f.stream, f.body);
    });
    t.seal();
    send(t.alice, 'real');
    await closedWith(t.bobReceived, 'unsealed');
    assert.deepEqual(t.bobReceived.frames, []);
  });

  it('a GOODBYE in the clear after the switch closes the connection too, quoting its unauthenticated reason', async () => {
    const t = mitm((_f, forward) =>
      forward(
        PacketType.GOODBYE,
        FrameFlag.JSON,
        0,
        Buffer.from('{"code":"INVALID_ARGUMENT","reason":"frame too big"}'),
      ),
    );
    t.seal();
    send(t.alice, 'x');
    await closedWith(t.bobReceived, 'unsealed');
    assert.match((t.bobReceived.closes[0] as Error).message, /unauthenticated; it says: "frame too big"/);
  });

  it('a sealed batch that opens but does not hold whole frames closes the connection (malformed)', async () => {
    let relay: Relay = honest;
    const t = mitm((f, forward) => relay(f, forward));
    // The relay holds alice's key (a broken or hostile peer): it seals garbage at the right counter.
    const forger = new FrameSealer(t.keys.dialer.send, { algorithm: t.keys.dialer.algorithm });
    const aad = Uint8Array.from([1, PacketType.SEALED, 0, 0, 0, 0, 0]);
    relay = (f, forward) =>
      forward(f.type, f.flags, f.stream, forger.seal(aad, Uint8Array.from([0, 0, 0, 3, 1, 4, 0])));
    t.seal();
    send(t.alice, 'real');
    await closedWith(t.bobReceived, 'malformed');
    assert.deepEqual(t.bobReceived.frames, []);
  });

  it('reordered frames: refused on a strict stream, accepted once each with a replay window', async () => {
    const reorder = (): Relay => {
      let held: Frame | undefined;
      let seen = 0;
      return (f, forward) => {
        if (++seen === 1) held = { ...f, body: f.body.slice() };
        else {
          forward(f.type, f.flags, f.stream, f.body);
          if (held) forward(held.type, held.flags, held.stream, held.body);
          if (held) forward(held.type, held.flags, held.stream, held.body); // and a replay of it
          held = undefined;
        }
      };
    };
    const strict = mitm(reorder());
    strict.seal();
    sendEach(strict.alice, 'one', 'two');
    await closedWith(strict.bobReceived, 'out-of-order');
    assert.deepEqual(strict.bobReceived.frames, []);

    const windowed = mitm(reorder(), { ordering: 'window' });
    windowed.seal();
    sendEach(windowed.alice, 'one', 'two');
    await closedWith(windowed.bobReceived, 'replayed');
    assert.deepEqual(
      windowed.bobReceived.frames.map((f) => f.body),
      ['two', 'one'],
    );
  });

  it('rekeys across epochs in step on both sides with no extra frames', async () => {
    let relayed = 0;
    const t = mitm(
      (f, forward) => {
        relayed++;
        forward(f.type, f.flags, f.stream, f.body);
      },
      { keySchedule: { epochMessages: 4 } },
    );
    t.seal();
    const bodies = Array.from({ length: 19 }, (_, i) => `m${i}`);
    sendEach(t.alice, ...bodies);
    await waitUntil(() => t.bobReceived.frames.length === bodies.length);
    assert.deepEqual(
      t.bobReceived.frames.map((f) => f.body),
      bodies,
    );
    assert.equal(relayed, bodies.length);
    assert.deepEqual(t.bobReceived.closes, []);
  });

  it('refuses a frame too large once sealed in send(), before sealing anything', async () => {
    const t = mitm(honest);
    t.seal();
    const fits = LIMITS.maxFrameSize - 7 - SEALED_FRAME_OVERHEAD; // the clear limit, less 35 bytes
    assert.throws(
      () => t.alice.send(PacketType.ONEWAY, 0, 1, new Uint8Array(fits + 1)),
      (e) => ParleyError.is(e, 'RESOURCE_EXHAUSTED') && /once sealed/.test((e as Error).message),
    );
    t.alice.send(PacketType.ONEWAY, 0, 2, new Uint8Array(fits));
    await waitUntil(() => t.bobReceived.frames.length === 1);
    assert.equal(t.bobReceived.frames[0]!.stream, 2);
    assert.deepEqual(t.bobReceived.closes, []);
  });

  it('without the limits, a batch the inner connection refuses closes the connection instead of leaving a gap', async () => {
    const network = new MemoryNetwork();
    let accepted: Connection | undefined;
    const address = network.register((c) => (accepted = c));
    const inner = network.connect('alice', address, LIMITS);
    accepted!.setHandlers({ onFrame() {}, onClose() {} });
    const alice = new SealedConnection(inner); // no maxFrameSize: it cannot refuse in send()
    const received = listen(alice);
    alice.sealOutbound(sessionKeys().dialer);
    alice.send(PacketType.ONEWAY, 0, 1, new Uint8Array(LIMITS.maxFrameSize)); // accepted, sealed later
    await waitUntil(() => received.closes.length > 0, 5000, 'the connection to close');
    const error = received.closes[0];
    assert.ok(ParleyError.is(error, 'UNAVAILABLE'), String(error));
    assert.match((error as Error).message, /counter was spent/);
    assert.throws(
      () => send(alice, 'more'),
      (e) => ParleyError.is(e, 'UNAVAILABLE'),
    );
  });

  it('sealing and opening are switched on once each', () => {
    const t = mitm(honest);
    t.seal();
    assert.throws(
      () => t.alice.sealOutbound(t.keys.dialer),
      (e) => ParleyError.is(e, 'FAILED_PRECONDITION'),
    );
    assert.throws(
      () => t.alice.openInbound(t.keys.dialer),
      (e) => ParleyError.is(e, 'FAILED_PRECONDITION'),
    );
    t.alice.destroy();
  });
});

/** An inner connection driven by hand: the test calls its handlers as the network would. */
function handDriven(): { inner: Connection; deliver: (frame: Frame) => void; sent: Frame[] } {
  let handlers: ConnectionHandlers | undefined;
  let closed = false;
  const sent: Frame[] = [];
  const inner: Connection = {
    id: 1,
    outbound: false,
    remoteAddress: 'hand',
    peerIdentity: undefined,
    pendingBytes: 0,
    get closed() {
      return closed;
    },
    setHandlers: (h) => (handlers = h),
    send: (type, flags, stream, body) => sent.push({ version: 1, type, flags, stream, body }),
    flush() {},
    close: () => (closed = true),
    destroy: () => (closed = true),
  };
  return { inner, deliver: (frame) => handlers!.onFrame(frame), sent };
}

describe('SealedConnection against an authenticated but broken peer (property)', () => {
  it('any sealed content either yields well-formed frames or closes the connection as malformed; nothing throws', () => {
    const aad = Uint8Array.from([1, PacketType.SEALED, 0, 0, 0, 0, 0]);
    const frameBytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc
        .record({
          type: fc.integer({ min: 0, max: 15 }),
          version: fc.constantFrom(1, 1, 1, 2),
          body: fc.uint8Array({ maxLength: 20 }),
          lie: fc.integer({ min: -8, max: 8 }),
        })
        .map(({ type, version, body, lie }) => {
          const out = new Uint8Array(11 + body.length);
          const length = Math.max(0, 7 + body.length + (lie % 3 === 0 ? lie : 0));
          out.set([
            length >>> 24,
            (length >>> 16) & 255,
            (length >>> 8) & 255,
            length & 255,
            version,
            type,
            0,
            0,
            0,
            0,
            1,
          ]);
          out.set(body, 11);
          return out;
        }),
    );
    fc.assert(
      fc.property(fc.array(frameBytes, { maxLength: 4 }), (parts) => {
        const content = Buffer.concat(parts);
        const { inner, deliver } = handDriven();
        const receiver = new SealedConnection(inner);
        const r = listen(receiver);
        const keys = sessionKeys();
        receiver.openInbound(keys.listener);
        const sealer = new FrameSealer(keys.dialer.send, { algorithm: keys.dialer.algorithm });
        deliver({ version: 1, type: PacketType.SEALED, flags: 0, stream: 0, body: sealer.seal(aad, content) });
        if (r.closes.length > 0) {
          assert.ok(isSealError(r.closes[0], 'malformed'), String(r.closes[0]));
          assert.deepEqual(r.frames, []);
        } else {
          assert.ok(r.frames.length > 0);
          for (const f of r.frames) assert.notEqual(f.type, PacketType.SEALED);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('SealedConnection over TCP', () => {
  it('thousands of frames of mixed sizes arrive whole and in order through real socket chunking', async () => {
    const limits = { maxFrameSize: 1 << 20, maxOutboundBytes: 64 << 20 };
    const server = new TcpTransport({ host: '127.0.0.1', port: 0, ...limits });
    const client = new TcpTransport({ host: '127.0.0.1', port: null, ...limits });
    let accepted: SealedConnection | undefined;
    const address = await server.listen((c) => (accepted = new SealedConnection(c, limits)));
    const dialer = new SealedConnection(await client.dial(address!), limits);
    await waitUntil(() => accepted !== undefined, 5000, 'the server to accept');
    const keys = sessionKeys();
    const received: { stream: number; length: number; last: number }[] = [];
    const closes: (Error | undefined)[] = [];
    accepted!.setHandlers({
      onFrame: (f) => received.push({ stream: f.stream, length: f.body.length, last: f.body.at(-1) ?? -1 }),
      onClose: (e) => closes.push(e),
    });
    accepted!.openInbound(keys.listener);
    dialer.sealOutbound(keys.dialer);
    const sizes = Array.from({ length: 3000 }, (_, i) => (i * 7919) % (i % 100 === 0 ? 200_000 : 3000));
    for (const [i, size] of sizes.entries()) {
      const body = new Uint8Array(size);
      if (size > 0) body[size - 1] = i & 0xff;
      dialer.send(PacketType.EVENT, 0, i, body);
      if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve)); // let some batches go
    }
    await waitUntil(() => received.length === sizes.length || closes.length > 0, 10_000, 'every frame');
    assert.deepEqual(closes, []);
    assert.deepEqual(
      received.map((r) => r.stream),
      sizes.map((_, i) => i),
    );
    assert.deepEqual(
      received.map((r) => [r.length, r.last]),
      sizes.map((size, i) => [size, size > 0 ? i & 0xff : -1]),
    );
    dialer.destroy();
    accepted!.destroy();
    await server.close();
  });
});
