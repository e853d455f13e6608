/**
 * Hostile peers against live processes: a `parley node` and a `parley server` member, spawned from
 * this build. Each attack comes from its own loopback address (127.0.0.x: its own per-address
 * allowance), while a well-behaved client keeps calling from 127.0.0.1. After each: the process is
 * still running, the client's calls all succeeded throughout, the attacker's connections are gone,
 * and (for the peer that never reads) the memory it made the process hold is given back.
 *
 * The CI version is sized to run in seconds; PARLEY_HOSTILE_LONG=1 multiplies the counts by 5
 * (not the flood's: 12,000 calls already pass the per-caller limit, and more only stall the test
 * process itself, whose peers then see it silent).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../../src/base/testing/wait-until.js';
import { connectKv, type KvClient } from '../../src/cluster/client/kv-client.js';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import { PacketType } from '../../src/wire/frame.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import { type LiveProcess, startLive } from './live-process.js';
import { helloFrame, lyingHeader, type RawPeer, rawConnect, requestFrame } from './raw-peer.js';

const SCALE = process.env.PARLEY_HOSTILE_LONG === '1' ? 5 : 1;
const MiB = 1024 * 1024;
const SERVICES = fileURLToPath(new URL('./hostile-services.js', import.meta.url));

/** A client that calls in a loop until stopped, recording every failure. */
class WellBehaved {
  ok = 0;
  readonly failures: string[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(call: (i: number) => Promise<unknown>) {
    this.done = (async () => {
      for (let i = 0; this.running; i++) {
        try {
          await call(i);
          this.ok++;
        } catch (err) {
          this.failures.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  }

  /** Asserts that it made progress since `since` calls and that nothing failed. */
  /** Asserts that it made progress since `since` calls and that nothing failed (failures are then cleared). */
  async progressed(since: number, what: string, log: () => string): Promise<void> {
    try {
      await waitUntil(() => this.ok > since + 5, 10_000, `${what}: the well-behaved client's calls to go on`);
      assert.deepEqual(
        this.failures,
        [],
        `${what}: every call of the well-behaved client succeeded; logs:\n${log().slice(-3000)}`,
      );
    } finally {
      this.failures.length = 0;
    }
  }

  stop(): Promise<void> {
    this.running = false;
    return this.done;
  }
}

/** Opens `count` connections spread over addresses 127.0.<net>.1… (at most `perAddress` each). */
async function openMany(address: string, count: number, net: number, perAddress = 60): Promise<RawPeer[]> {
  const peers: RawPeer[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) => {
      const n = i + j;
      return rawConnect(address, `127.0.${net}.${1 + Math.floor(n / perAddress)}`);
    });
    peers.push(...(await Promise.all(batch)));
  }
  return peers;
}

describe('live processes survive hostile peers', { timeout: 180_000 }, () => {
  let dir: string;
  let node: LiveProcess;
  let server: LiveProcess;
  let client: ParleyNode;
  let kv: KvClient;
  let nodeCaller: WellBehaved;
  let kvCaller: WellBehaved;
  const targets = () => [node, server];
  const clientLog: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-hostile-'));
    [node, server] = await Promise.all([
      startLive('node', ['node', SERVICES, '--id', 'victim', '--log-level', 'warn']),
      startLive('server', ['server', '--id', 'solo', '--data', join(dir, 'solo'), '--listen', '127.0.0.1:0']),
    ]);
    const add = (level: string) => (m: string) => clientLog.push(`${new Date().toISOString()} ${level} ${m}`);
    const logger = { debug: () => {}, info: add('info'), warn: add('warn'), error: add('error') };
    client = createNode({ id: 'good-client', port: null, seeds: [node.address], logger });
    await client.start();
    await waitUntil(() => client.nodes().some((n) => n.id === 'victim' && n.connected), 10_000, 'the client to join');
    kv = await connectKv({ servers: [server.address], timeoutMs: 10_000 });
    nodeCaller = new WellBehaved(async (i) => {
      const sum = await client.call('target.add', { a: i, b: 1 }, { timeout: 10_000 });
      if (sum !== i + 1) throw new Error(`target.add answered ${String(sum)}`);
    });
    kvCaller = new WellBehaved(async (i) => {
      await kv.put('good/key', String(i));
      const got = await kv.get('good/key');
      if (got === undefined || Buffer.from(got.value).toString() !== String(i))
        throw new Error('read its own write wrong');
    });
    await nodeCaller.progressed(0, 'start', () => node.stderr());
    await kvCaller.progressed(0, 'start', () => server.stderr());
  });

  after(async () => {
    await nodeCaller?.stop();
    await kvCaller?.stop();
    await client?.stop();
    await kv?.close();
    const codes = await Promise.all([node?.stop(), server?.stop()]);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(codes, [0, 0], 'both processes exit cleanly on SIGTERM after the attacks');
  });

  async function stillServing(what: string, since: [number, number]): Promise<void> {
    for (const t of targets()) assert.equal(t.exited(), false, `${t.name} is still running after ${what}`);
    await nodeCaller.progressed(since[0], `${what} (node)`, () => `${node.stderr()}\nclient: ${clientLog.join('\n')}`);
    await kvCaller.progressed(since[1], `${what} (server)`, () => server.stderr());
  }

  it('garbage, huge length prefixes and frames before the handshake each cost only their own connection', async () => {
    const since: [number, number] = [nodeCaller.ok, kvCaller.ok];
    for (const [i, t] of targets().entries()) {
      const peers: RawPeer[] = [];
      for (let n = 0; n < 30 * SCALE; n++) {
        const p = await rawConnect(t.address, `127.1.${i}.${1 + (n % 50)}`);
        switch (n % 3) {
          case 0:
            p.socket.write(randomBytes(64 + (n % 512)));
            break;
          case 1: // a length prefix of 4 GiB, then bytes as if a body followed
            p.socket.write(Buffer.concat([lyingHeader(PacketType.HELLO, 0xfffffff0), randomBytes(1024)]));
            break;
          default: // a request before any HELLO
            p.socket.write(requestFrame(1, 'target.add', { a: 1, b: 2 }));
        }
        peers.push(p);
      }
      await Promise.all(peers.map((p) => p.closed));
    }
    await stillServing('garbage', since);
  });

  it('a flood of requests is bounded per caller (RESOURCE_EXHAUSTED past maxInFlightPerPeer); others are served', async () => {
    const since: [number, number] = [nodeCaller.ok, kvCaller.ok];
    const flooder = createNode({ id: 'flooder', port: null, seeds: [node.address, server.address], logger: 'silent' });
    await flooder.start();
    try {
      await waitUntil(
        () => ['victim', 'solo'].every((id) => flooder.nodes().some((n) => n.id === id && n.connected)),
        10_000,
        'the flooder to join both',
      );
      const outcomes = new Map<string, number>();
      let refusal = '';
      const count = (p: Promise<unknown>) =>
        p.then(
          () => outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1),
          (e: unknown) => {
            const code = ParleyError.is(e) ? e.code : String(e);
            if (code === 'RESOURCE_EXHAUSTED') refusal ||= (e as Error).message;
            outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
          },
        );
      const calls: Promise<unknown>[] = [];
      // 12,000 held requests at once: 10,000 run, the ones past the limit are refused at once.
      for (let i = 0; i < 12_000; i++)
        calls.push(count(flooder.call('target.hold', { ms: 3000 }, { nodeId: 'victim', timeout: 30_000 })));
      // Writes to the member, as fast as it can take them.
      for (let i = 0; i < 3000; i++)
        calls.push(
          count(flooder.call('$kv.put', { key: `flood/${i % 100}`, value: 'x' }, { nodeId: 'solo', timeout: 30_000 })),
        );
      await Promise.all(calls);
      const seen = JSON.stringify([...outcomes]);
      assert.ok((outcomes.get('RESOURCE_EXHAUSTED') ?? 0) > 0, seen);
      assert.match(refusal, /maxInFlightPerPeer/);
      assert.ok((outcomes.get('ok') ?? 0) >= 10_000, seen);
      const unexpected = [...outcomes.keys()].filter((k) => !['ok', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE'].includes(k));
      assert.deepEqual(unexpected, [], seen);
    } finally {
      await flooder.stop();
    }
    await stillServing('the flood', since);
  });

  it('2,000 idle connections that never say HELLO are closed by the handshake deadline; a crowded address is capped', async () => {
    const since: [number, number] = [nodeCaller.ok, kvCaller.ok];
    const fdsBefore = targets().map((t) => t.openFds());
    const idle = (await Promise.all(targets().map((t, i) => openMany(t.address, 1000 * SCALE, 2 + i)))).flat();
    // And 100 from one address: past 64 (maxConnectionsPerAddress) they are closed at once.
    const crowd = (await Promise.all(targets().map((t, i) => openMany(t.address, 100, 20 + i, 100)))).flat();
    await waitUntil(() => idle.every((p) => p.isClosed()), 30_000, 'every idle connection to be closed');
    await waitUntil(() => crowd.every((p) => p.isClosed()), 30_000, 'every connection of the crowd to be closed');
    for (const [i, t] of targets().entries()) {
      const line = new RegExp(`refusing connections from 127\\.0\\.${20 + i}\\.1: .*maxConnectionsPerAddress`, 'g');
      assert.equal(t.stderr().match(line)?.length, 1, `${t.name} logs the refusals of one address once`);
    }
    // Their descriptors are gone too (a few of the client's own may come and go).
    await waitUntil(
      () => targets().every((t, i) => t.openFds() <= fdsBefore[i]! + 10),
      10_000,
      'the targets to hold no more descriptors than before',
    );
    await stillServing('idle connections', since);
  });

  it('a peer that asks for large answers and never reads is dropped; the memory it tied up is given back', async (ctx) => {
    const since: [number, number] = [nodeCaller.ok, kvCaller.ok];
    await kv.put('big/1', new Uint8Array(MiB));
    const rssBefore = targets().map((t) => t.rssBytes());
    const fdsBefore = targets().map((t) => t.openFds());
    const deaf: RawPeer[] = [];
    for (const [i, t] of targets().entries()) {
      const p = await rawConnect(t.address, `127.9.${i}.1`);
      p.socket.pause(); // never reads
      p.socket.write(helloFrame(`deaf-${i}`));
      // 40 answers of 4 MiB (node) or 100 of 1 MiB (server): more than the 64 MiB queued for one
      // peer plus what the sockets buffer.
      for (let s = 1; s <= (t === node ? 40 : 100) * SCALE; s++) {
        p.socket.write(
          t === node
            ? requestFrame(s, 'target.blob', { size: 4 * MiB })
            : requestFrame(s, '$kv.range', { range: { prefix: 'big/' }, serializable: true }),
        );
      }
      deaf.push(p);
    }
    await waitUntil(
      () => targets().every((t, i) => t.rssBytes() > rssBefore[i]! + 32 * MiB),
      30_000,
      'the targets to hold answers for the peers that never read',
    );
    const rssPeak = targets().map((t) => t.rssBytes());
    // It sends nothing more, so the liveness check drops it (and the full queue with it). The deaf
    // peer itself cannot see the close (its FIN waits behind the data it never reads): the
    // targets' descriptors and the node's log say it.
    await waitUntil(
      () => targets().every((t, i) => t.openFds() <= fdsBefore[i]!),
      30_000,
      'the targets to close the connections of the peers that never read',
    );
    for (const p of deaf) p.socket.destroy();
    for (const target of targets())
      assert.equal(target.exited(), false, `${target.name} survived the peer that never reads`);
    // The queued answers are released: once garbage is collected, resident memory is back within
    // 48 MiB of before (without a GC an idle process may keep them for minutes). Backing stores
    // are freed in the background, so a few rounds may be needed.
    const within = (rss: number[]) => rss.length === 2 && rss.every((r, i) => r < rssBefore[i]! + 48 * MiB);
    let rssAfter: number[] = [];
    for (let round = 0; round < 20 && !within(rssAfter); round++) {
      await Promise.all(targets().map((x) => x.collectGarbage()));
      rssAfter = targets().map((x) => x.rssBytes());
    }
    const show = (rss: number[]) => rss.map((b) => Math.round(b / MiB)).join('/');
    const measured = `resident memory (node/server, MiB): before ${show(rssBefore)}, peak ${show(rssPeak)}, after GC ${show(rssAfter)}`;
    ctx.diagnostic(measured);
    assert.ok(within(rssAfter), measured);
    await stillServing('the peer that never reads', since);
  });
});
