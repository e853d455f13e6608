/**
 * Protocol robustness against a running node process: connections that send garbage, a frame of
 * another protocol version, an oversized length prefix, or packets out of order are closed, while
 * a well-behaved node's calls to the same process keep working and the process stays alive.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../../src/base/testing/wait-until.js';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import { codecForFlags } from '../../src/wire/codec.js';
import { FrameFlag, PacketType } from '../../src/wire/frame.js';
import { StatusCode } from '../../src/wire/status.js';
import { killAll, type NodeProcess, spawnNode, within } from './harness.js';
import { RawConnection, type RawFrame, rawFrame } from './raw-connection.js';

const json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');

function hello(id: string, address: string | null = null): Buffer {
  return rawFrame({
    type: PacketType.HELLO,
    flags: FrameFlag.JSON,
    body: json({
      protocol: 1,
      codec: 'json',
      maxFrameSize: 16 * 1024 * 1024,
      node: { id, address, incarnation: `${id}-1`, version: 1, services: [], meta: {} },
      auth: null,
    }),
  });
}

describe('protocol robustness of a node process', () => {
  const procs: NodeProcess[] = [];
  let server: NodeProcess;
  let client: ParleyNode;
  let calling = true;
  let calls: Promise<unknown[]>;

  before(async () => {
    server = await spawnNode({ id: 'target' }, procs);
    client = createNode({ id: 'well-behaved', port: null, seeds: [server.address], logger: 'silent' });
    await client.start();
    await client.waitFor('svc.add', 10_000);
    // A well-behaved caller keeps calling the same process throughout the attacks.
    calls = (async () => {
      const results: unknown[] = [];
      for (let i = 0; calling; i++) {
        results.push(await client.call('svc.add', { a: i, b: 1 }, { timeout: 5000 }).catch((err: unknown) => err));
      }
      return results;
    })();
  });

  after(async () => {
    calling = false;
    await client?.stop();
    await killAll(procs);
  });

  /** Opens a raw connection, sends `bytes` after the node's HELLO, and waits for the node to close it. */
  async function attack(bytes: Buffer[], what: string): Promise<RawConnection> {
    const raw = await RawConnection.open(server.address);
    try {
      for (const b of bytes) raw.write(b);
      await within(raw.closed, 10_000, `the node closing the connection after ${what}`);
      return raw;
    } finally {
      raw.destroy();
    }
  }

  async function assertStillServing(): Promise<void> {
    assert.equal(server.alive, true, `the node process is alive; stderr: ${server.stderr()}`);
    assert.equal(await client.call('svc.add', { a: 2, b: 3 }, { timeout: 5000 }), 5);
  }

  it('garbage bytes close the connection', async () => {
    await attack([Buffer.from('GET / HTTP/1.1\r\nHost: parley\r\n\r\n')], 'an HTTP request');
    // A plausible length and version, then a packet type that does not exist.
    const raw = await attack(
      [rawFrame({ type: 0xee, body: Buffer.from('noise noise noise') })],
      'an unknown packet type',
    );
    assert.equal(raw.goodbye()?.code, 'INVALID_ARGUMENT');
    await attack([Buffer.from([0, 0, 0, 2, 1, 2])], 'a length shorter than the header');
    await assertStillServing();
  });

  it('a frame with another protocol version closes the connection with FAILED_PRECONDITION', async () => {
    const raw = await attack([rawFrame({ version: 99, type: PacketType.HELLO, body: json({}) })], 'version 99');
    assert.equal(raw.goodbye()?.code, 'FAILED_PRECONDITION', 'the GOODBYE says why');
    assert.match(raw.goodbye()!.reason, /version 99/);
    await assertStillServing();
  });

  it('an oversized length prefix closes the connection before the body is read', async () => {
    const raw = await attack(
      [rawFrame({ length: 0xfffffff0, type: PacketType.REQUEST }), Buffer.alloc(64 * 1024, 7)],
      'a 4 GiB length prefix',
    );
    assert.equal(raw.goodbye()?.code, 'RESOURCE_EXHAUSTED');
    await assertStillServing();
  });

  it('a request before HELLO closes the connection', async () => {
    const raw = await attack(
      [
        rawFrame({
          type: PacketType.REQUEST,
          flags: FrameFlag.JSON,
          stream: 1,
          body: json(['svc.add', { a: 1, b: 1 }, null, 0]),
        }),
      ],
      'a REQUEST before HELLO',
    );
    assert.equal(raw.goodbye()?.code, 'INVALID_ARGUMENT');
    assert.ok(!raw.frames.some((f) => f.type === PacketType.RESPONSE), 'the request was not served');
    await assertStillServing();
  });

  it('a malformed HELLO, or one claiming the node’s own id or a connected peer’s, is refused with a reason', async () => {
    const malformed = await attack(
      [rawFrame({ type: PacketType.HELLO, flags: FrameFlag.JSON, body: json({ protocol: 1, codec: 'json' }) })],
      'a HELLO without a node',
    );
    assert.equal(malformed.goodbye()?.code, 'INVALID_ARGUMENT');
    const notJson = await attack(
      [rawFrame({ type: PacketType.HELLO, flags: FrameFlag.JSON, body: Buffer.from('{{{') })],
      'a HELLO that is not JSON',
    );
    assert.equal(notJson.goodbye()?.code, 'INVALID_ARGUMENT');
    const impostor = await attack([hello('target')], 'a HELLO with the node’s own id');
    assert.equal(impostor.goodbye()?.code, 'ALREADY_EXISTS');
    // Claiming the id of the connected, busy well-behaved client must not oust it.
    const thief = await attack([hello('well-behaved')], 'a HELLO with a connected peer’s id');
    assert.equal(thief.goodbye()?.code, 'ALREADY_EXISTS');
    await assertStillServing();
  });

  it('after a valid handshake, an undecodable request body gets INVALID_ARGUMENT and a bad frame closes the connection', async () => {
    const raw = await RawConnection.open(server.address);
    try {
      raw.write(hello('raw-peer'));
      raw.write(
        rawFrame({ type: PacketType.REQUEST, flags: FrameFlag.JSON, stream: 7, body: Buffer.from('{not json') }),
      );
      raw.write(
        rawFrame({
          type: PacketType.REQUEST,
          flags: FrameFlag.JSON,
          stream: 8,
          body: json(['svc.add', { a: 40, b: 2 }, null, 0]),
        }),
      );
      const deadline = Date.now() + 10_000;
      while (raw.frames.filter((f) => f.type === PacketType.RESPONSE).length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const responses = raw.frames.filter((f) => f.type === PacketType.RESPONSE);
      const bad = responses.find((f) => f.stream === 7);
      assert.ok(bad, 'the undecodable request was answered');
      assert.ok(bad.flags & FrameFlag.ERROR, 'with an error');
      const [code, message] = codecForFlags(bad.flags).decode(bad.body) as [number, string];
      assert.equal(code, StatusCode.INVALID_ARGUMENT, `error code ${code}: ${message}`);
      const good = responses.find((f) => f.stream === 8);
      assert.ok(good && !(good.flags & FrameFlag.ERROR), 'the connection still served the next request');
      assert.equal(codecForFlags(good.flags).decode(good.body), 42);
      // Now a frame that breaks framing itself.
      raw.write(rawFrame({ version: 2, type: PacketType.PING }));
      await within(raw.closed, 10_000, 'the node closing the handshaken connection');
    } finally {
      raw.destroy();
    }
    await assertStillServing();
  });

  it('PINGs are not answered before the handshake, and 1 MiB PINGs from a peer that never reads do not crash it', async () => {
    const early = await attack([rawFrame({ type: PacketType.PING, stream: 1, body: Buffer.alloc(8) })], 'a PING first');
    assert.ok(!early.frames.some((f) => f.type === PacketType.PONG), 'no PONG before HELLO');
    assert.equal(early.goodbye()?.code, 'INVALID_ARGUMENT');
    // The attack that crashed the process after ~75 MiB: handshake, then 1 MiB PINGs, never read.
    const raw = await RawConnection.open(server.address);
    try {
      raw.write(hello('pinger'));
      raw.socket.pause();
      const ping = rawFrame({ type: PacketType.PING, body: Buffer.alloc(1024 * 1024, 1) });
      for (let i = 0; i < 100 && !raw.socket.destroyed; i++) {
        if (!raw.socket.write(ping)) await Promise.race([new Promise((r) => setTimeout(r, 100)), raw.closed]);
      }
      raw.socket.resume();
      await within(raw.closed, 10_000, 'the node closing the flooding connection');
      // The GOODBYE is best effort here: a reset caused by our own writes may discard it.
      assert.ok(!raw.frames.some((f) => f.type === PacketType.PONG && f.body.length > 64), 'no 1 MiB PONG');
    } finally {
      raw.destroy();
    }
    await assertStillServing();
  });

  it('an unfinished 12 MiB frame before the handshake is refused at its header', async () => {
    const raw = await attack(
      [rawFrame({ length: 12 * 1024 * 1024, type: PacketType.HELLO }), Buffer.alloc(64 * 1024, 7)],
      'a 12 MiB first frame',
    );
    assert.equal(raw.goodbye()?.code, 'RESOURCE_EXHAUSTED');
    assert.match(raw.goodbye()!.reason, /before the handshake/);
    await assertStillServing();
  });

  it('a request whose body would decode into millions of values is refused before it is decoded', async () => {
    const raw = await RawConnection.open(server.address);
    try {
      raw.write(hello('nil-sender'));
      const nils = Buffer.alloc(5 + 12 * 1024 * 1024, 0xc0);
      nils[0] = 0xdd; // array 32 of 12M nils
      nils.writeUInt32BE(12 * 1024 * 1024, 1);
      raw.write(rawFrame({ type: PacketType.REQUEST, stream: 9, body: nils }));
      const isResponse = (f: RawFrame) => f.type === PacketType.RESPONSE && f.stream === 9;
      await waitUntil(() => raw.frames.some(isResponse), 10_000, 'the response to the request of nils');
      const response = raw.frames.find(isResponse)!;
      assert.ok(response.flags & FrameFlag.ERROR);
      const [code, message] = codecForFlags(response.flags).decode(response.body) as [number, string];
      assert.equal(code, StatusCode.RESOURCE_EXHAUSTED, message);
      assert.match(message, /more than \d+ values/);
    } finally {
      raw.destroy();
    }
    await assertStillServing();
  });

  it('a GOSSIP from a peer starts a bounded number of dials', async () => {
    // Every gossiped address points at this counting listener.
    let accepted = 0;
    const sockets: net.Socket[] = [];
    const sink = net.createServer((s) => {
      // Only dials of gossiped addresses (127.0.1.x and up); other nodes may dial the member's own.
      if (/127\.0\.[1-9]/.test(s.localAddress ?? '')) accepted++;
      sockets.push(s);
      s.on('error', () => {});
    });
    // On all addresses, so that every 127.x.y.z loopback address reaches it.
    await new Promise<void>((r) => sink.listen(0, '0.0.0.0', () => r()));
    const port = (sink.address() as net.AddressInfo).port;
    // Distinct addresses, so that dials are not merged: each entry gets its own loopback host.
    const spread = (n: number) =>
      rawFrame({
        type: PacketType.GOSSIP,
        flags: FrameFlag.JSON,
        body: json(
          Array.from({ length: n }, (_, i) => [`ghost-${i}`, `127.0.${(i >> 8) + 1}.${i & 255}:${port}`, 'g']),
        ),
      });
    const pingPong = async (raw: RawConnection, stream: number) => {
      raw.write(rawFrame({ type: PacketType.PING, stream }));
      await waitUntil(
        () => raw.frames.some((f) => f.type === PacketType.PONG && f.stream === stream),
        10_000,
        'the PONG that shows the frames before it were handled',
      );
    };
    const member = await RawConnection.open(server.address);
    try {
      member.write(hello('gossiping-member', `127.0.0.1:${port}`));
      // The reproduction: 2,000 entries in one GOSSIP (it made a node open 2,000 sockets) is refused whole.
      member.write(spread(2000));
      await pingPong(member, 2);
      // 1,000 entries (under the per-message bound) start at most 16 dials.
      member.write(spread(1000));
      await pingPong(member, 3);
      await waitUntil(() => accepted >= 16, 10_000, 'the first dials');
      await pingPong(member, 4);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(accepted, 16, 'one GOSSIP starts at most 16 dials (the default per interval), not 1,000');
    } finally {
      member.destroy();
      for (const s of sockets) s.destroy();
      sink.close();
    }
    await assertStillServing();
  });

  it('the well-behaved caller never saw a failure', async () => {
    calling = false;
    const results = await within(calls, 10_000, 'the calling loop');
    assert.ok(results.length > 0);
    const failures = results.filter((r) => typeof r !== 'number');
    assert.deepEqual(failures.map(String), [], 'no call failed');
    assert.equal(server.alive, true);
  });
});
