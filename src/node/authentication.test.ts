/**
 * Authentication of every connection (issue 11 §1), node to node over an in-memory network: each
 * attack the issue lists must fail, and each mode must name the caller in ctx.principal.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { waitUntil } from '../base/testing/wait-until.js';
import type { Connection } from '../transport/connection.js';
import type { Logger } from '../transport/logger.js';
import { MemoryNetwork, MemoryTransport } from '../transport/memory-transport.js';
import type { Principal } from '../transport/principal.js';
import type { AuthOptions } from '../transport/security/auth-options.js';
import { generateNodeKeys } from '../transport/security/node-keys.js';
import type { Transport } from '../transport/transport.js';
import { jsonCodec } from '../wire/codec.js';
import { type Frame, FrameFlag, PacketType, PROTOCOL_VERSION } from '../wire/frame.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Context } from './context.js';
import { createNode, type ParleyNode } from './node.js';
import type { NodeOptions } from './options.js';

const LIMITS = { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 };
const SECRET = 'correct horse battery staple, and then some more';

interface Lines extends Logger {
  readonly lines: string[];
}
function recordingLogger(): Lines {
  const lines: string[] = [];
  const add = (level: string) => (m: string) => lines.push(`${level} ${m}`);
  return { lines, debug: () => {}, info: add('info'), warn: add('warn'), error: add('error') };
}

const keys = { alice: generateNodeKeys(), bob: generateNodeKeys(), mallory: generateNodeKeys() };

/** Frames a transport's connections send, for replay. */
class RecordingTransport implements Transport {
  readonly sent: { type: number; flags: number; body: Uint8Array }[] = [];
  constructor(private readonly inner: Transport) {}
  listen(onAccept: (c: Connection) => void) {
    return this.inner.listen(onAccept);
  }
  async dial(address: string): Promise<Connection> {
    const c = await this.inner.dial(address);
    const send = c.send.bind(c);
    (c as { send: Connection['send'] }).send = (type, flags, stream, body) => {
      this.sent.push({ type, flags, body: body.slice() });
      send(type, flags, stream, body);
    };
    return c;
  }
  close() {
    return this.inner.close();
  }
}

describe('authentication', () => {
  const started: ParleyNode[] = [];
  after(async () => {
    await Promise.all(started.map((n) => n.stop()));
  });

  const seen: { principal?: Principal | undefined; caller?: string }[] = [];
  const events: string[] = [];
  const service = {
    name: 'vault',
    actions: {
      whoami: (_p: unknown, ctx: Context) => {
        seen.push({ principal: ctx.principal, caller: ctx.callerId });
        return {
          name: ctx.principal?.name,
          via: ctx.principal?.via,
          groups: ctx.principal?.groups,
          caller: ctx.callerId,
        };
      },
    },
    events: { 'vault.opened': () => void events.push('opened') },
  };

  async function node(
    network: MemoryNetwork,
    id: string,
    options: Partial<NodeOptions> & { listen?: boolean } = {},
  ): Promise<ParleyNode> {
    const { listen = true, ...rest } = options;
    const n = createNode({
      id,
      logger: 'silent',
      transport: new MemoryTransport(network, LIMITS, listen),
      gossipInterval: 50,
      ...rest,
    });
    started.push(n);
    await n.start();
    return n;
  }

  /** A server hosting `vault`, with a logger that records refusals. */
  async function server(network: MemoryNetwork, id: string, auth: AuthOptions) {
    const logger = recordingLogger();
    const n = await node(network, id, { auth, logger });
    n.addService(service);
    return { node: n, logger, refusals: () => logger.lines.filter((l) => /refusing connection/.test(l)) };
  }

  const memberAuth = (name: 'alice' | 'bob' | 'mallory'): AuthOptions => ({
    key: keys[name].secretKey,
    trust: { alice: keys.alice.publicKey, bob: { publicKey: keys.bob.publicKey, groups: ['ops'] } },
  });

  it('key mode: members join, and handlers see the name the trust list gives the key', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alice', memberAuth('alice'));
    const b = await node(net, 'bob', { auth: memberAuth('bob'), seeds: [a.node.address!] });
    await b.waitFor('vault.whoami', 3000);
    assert.deepEqual(await b.call('vault.whoami'), { name: 'bob', via: 'key', groups: ['ops'], caller: 'bob' });
  });

  it('a stranger without credentials cannot call, receive events, or appear in the catalog', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alice', memberAuth('alice'));
    const stranger = await node(net, 'stranger', { seeds: [a.node.address!] });
    stranger.addService({ name: 'spy', actions: {}, events: { 'vault.opened': () => void events.push('spied') } });
    await waitUntil(() => a.refusals().length > 0, 3000, 'the refusal');
    assert.match(a.refusals()[0]!, /sent no credentials/);
    await assert.rejects(stranger.call('vault.whoami', {}, { timeout: 200 }), ParleyError);
    assert.ok(!a.node.nodes().some((p) => p.id === 'stranger'), 'the stranger is not in the catalog');
    await a.node.broadcast('vault.opened');
    assert.ok(!events.includes('spied'));
    assert.equal(seen.filter((s) => s.caller === 'stranger').length, 0);
    // Nor does it learn what the node serves: the HELLO, sent before anyone is proven, names nothing.
    const spy = net.connect('mem:spy', a.node.address!, LIMITS);
    const frames: Frame[] = [];
    spy.setHandlers({ onFrame: (f) => frames.push({ ...f, body: f.body.slice() }), onClose() {} });
    await waitUntil(() => frames.length > 0, 3000, 'the HELLO');
    const hello = jsonCodec.decode(frames[0]!.body) as { node: { services: unknown[]; meta: object } };
    assert.deepEqual([hello.node.services, hello.node.meta], [[], {}]);
    spy.destroy();
  });

  it('an untrusted key, and a trusted key claiming another node id, are refused', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alice', memberAuth('alice'));
    const outsider = await node(net, 'mallory', { auth: memberAuth('mallory'), seeds: [a.node.address!] });
    await waitUntil(() => a.refusals().length > 0, 3000, 'the first refusal');
    assert.match(a.refusals()[0]!, /does not trust/);
    await outsider.stop();
    // Bob's key, claiming the node id 'carol': the id must be the name the key proves.
    const impostor = await node(net, 'carol', { auth: memberAuth('bob'), seeds: [a.node.address!] });
    await waitUntil(() => a.refusals().length > 1, 3000, 'the second refusal');
    assert.match(a.refusals()[1]!, /node id 'carol' does not match the identity its key proves \('bob'\)/);
    await assert.rejects(impostor.call('vault.whoami', {}, { timeout: 200 }), ParleyError);
  });

  it('a node proving by key meets one proving by secret (both derive the same session keys)', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alice', { ...memberAuth('alice'), secret: SECRET });
    const b = await node(net, 'bravo', {
      auth: { secret: SECRET, trust: { alice: keys.alice.publicKey } },
      seeds: [a.node.address!],
    });
    await b.waitFor('vault.whoami', 3000);
    assert.deepEqual(await b.call('vault.whoami'), { name: 'bravo', via: 'secret', groups: [], caller: 'bravo' });
  });

  it('secret mode: the right secret joins (principal = node id), a wrong one is refused', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alpha', { secret: SECRET });
    const b = await node(net, 'beta', { auth: { secret: SECRET }, seeds: [a.node.address!] });
    await b.waitFor('vault.whoami', 3000);
    assert.deepEqual(await b.call('vault.whoami'), { name: 'beta', via: 'secret', groups: [], caller: 'beta' });
    const wrong = await node(net, 'gamma', { auth: { secret: `${SECRET}!` }, seeds: [a.node.address!] });
    await waitUntil(() => a.refusals().length > 0, 3000, 'the refusal');
    assert.match(a.refusals()[0]!, /wrong auth.secret/);
    await assert.rejects(wrong.call('vault.whoami', {}, { timeout: 200 }), ParleyError);
    assert.throws(
      () => createNode({ auth: { secret: 'short' } }),
      (e: unknown) => ParleyError.is(e, 'INVALID_ARGUMENT') && /at least 32 characters/.test((e as Error).message),
    );
  });

  it('a captured HELLO and AUTH replayed on a new connection are refused', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alpha', { secret: SECRET });
    const recorder = new RecordingTransport(new MemoryTransport(net, LIMITS, false));
    const honest = await node(net, 'beta', { auth: { secret: SECRET }, seeds: [a.node.address!], transport: recorder });
    await honest.waitFor('vault.whoami', 3000);
    await honest.stop();
    const hello = recorder.sent.find((f) => f.type === PacketType.HELLO)!;
    const auth = recorder.sent.find((f) => f.type === PacketType.AUTH)!;
    assert.ok(hello && auth, 'the honest node sent HELLO and AUTH');
    const raw = net.connect('mem:attacker', a.node.address!, LIMITS);
    const received: Frame[] = [];
    raw.setHandlers({ onFrame: (f) => received.push({ ...f, body: f.body.slice() }), onClose() {} });
    raw.send(PacketType.HELLO, hello.flags, 0, hello.body);
    raw.send(PacketType.AUTH, auth.flags, 0, auth.body);
    raw.send(PacketType.REQUEST, 0, 1, jsonCodec.encode(['vault.whoami', {}, null, 0]));
    await waitUntil(() => raw.closed, 3000, 'the replayed connection to close');
    assert.match(a.refusals().join('\n'), /does not hold the cluster secret/);
    assert.ok(!received.some((f) => f.type === PacketType.RESPONSE), 'the request was not served');
    assert.equal(seen.filter((s) => s.caller === 'beta').length, 1, 'only the honest call ran');
  });

  it('frames after the handshake are sealed on the wire; encrypt: false on both sends them clear; a mismatch is refused', async () => {
    const net = new MemoryNetwork();
    const containsCall = (t: RecordingTransport) => t.sent.some((f) => Buffer.from(f.body).includes('vault.whoami'));
    for (const encrypt of [true, false]) {
      const a = await server(net, `alpha-${encrypt}`, { secret: SECRET, encrypt });
      const recorder = new RecordingTransport(new MemoryTransport(net, LIMITS, false));
      const b = await node(net, `beta-${encrypt}`, {
        auth: { secret: SECRET, encrypt },
        seeds: [a.node.address!],
        transport: recorder,
      });
      await b.waitFor('vault.whoami', 3000);
      await b.call('vault.whoami', {}, { nodeId: `alpha-${encrypt}` });
      assert.equal(containsCall(recorder), !encrypt, encrypt ? 'the REQUEST went sealed' : 'the REQUEST went clear');
    }
    const a = await server(net, 'alpha-mixed', { secret: SECRET });
    await node(net, 'beta-mixed', { auth: { secret: SECRET, encrypt: false }, seeds: [a.node.address!] });
    await waitUntil(() => a.refusals().length > 0, 3000, 'the refusal');
    assert.match(a.refusals()[0]!, /set auth.encrypt the same on every node/);
  });

  it('the handshake deadline closes a silent connection, and nothing but the handshake is served before it', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alpha', { secret: SECRET, handshakeTimeout: 150 });
    const silent = net.connect('mem:silent', a.node.address!, LIMITS);
    silent.setHandlers({ onFrame() {}, onClose() {} });
    await waitUntil(() => silent.closed, 3000, 'the silent connection to close');
    const early = net.connect('mem:early', a.node.address!, LIMITS);
    const received: Frame[] = [];
    early.setHandlers({ onFrame: (f) => received.push({ ...f, body: f.body.slice() }), onClose() {} });
    const hello = {
      protocol: PROTOCOL_VERSION,
      codec: 'json',
      maxFrameSize: LIMITS.maxFrameSize,
      node: { id: 'early', address: null, incarnation: 'e-1', version: 1, services: [], meta: {} },
      auth: {
        v: 1,
        nonce: Buffer.alloc(32, 1).toString('base64url'),
        ephemeral: Buffer.alloc(32, 2).toString('base64url'),
        method: 'secret',
        seal: true,
      },
    };
    early.send(PacketType.HELLO, FrameFlag.JSON, 0, jsonCodec.encode(hello));
    early.send(PacketType.REQUEST, FrameFlag.JSON, 1, jsonCodec.encode(['vault.whoami', {}, null, 0]));
    await waitUntil(() => early.closed, 3000, 'the early connection to close');
    assert.match(a.refusals().join('\n'), /REQUEST before authentication/);
    assert.ok(!received.some((f) => f.type === PacketType.RESPONSE));
  });

  describe('bearer tokens', () => {
    const issuer = generateKeyPairSync('ed25519');
    const tokens = {
      issuer: 'https://id.example',
      audience: 'parley',
      keys: [issuer.publicKey.export({ format: 'jwk' })],
    };
    const jwt = (sub: string, exp: string | number = '5m', aud = 'parley') =>
      new SignJWT({ groups: ['readers'] })
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer('https://id.example')
        .setAudience(aud)
        .setSubject(sub)
        .setExpirationTime(exp)
        .sign(issuer.privateKey);

    it('a client with a token calls a server whose key it trusts; handlers see the token subject', async () => {
      const net = new MemoryNetwork();
      const a = await server(net, 'alice', { ...memberAuth('alice'), tokens });
      const client = await node(net, 'cli-1', {
        listen: false,
        auth: { token: await jwt('carol'), trust: { alice: keys.alice.publicKey } },
        seeds: [a.node.address!],
      });
      await client.waitFor('vault.whoami', 3000);
      assert.deepEqual(await client.call('vault.whoami'), {
        name: 'carol',
        via: 'token',
        groups: ['readers'],
        caller: 'cli-1',
      });
    });

    it('expired and wrong-audience tokens are refused', async () => {
      const net = new MemoryNetwork();
      const a = await server(net, 'alice', { ...memberAuth('alice'), tokens });
      const trust = { alice: keys.alice.publicKey };
      await node(net, 'cli-2', {
        listen: false,
        auth: { token: await jwt('carol', Math.floor(Date.now() / 1000) - 600), trust },
        seeds: [a.node.address!],
      });
      await waitUntil(() => a.refusals().length > 0, 3000, 'the first refusal');
      assert.match(a.refusals()[0]!, /expired/);
      await node(net, 'cli-3', {
        listen: false,
        auth: { token: await jwt('carol', '5m', 'other'), trust },
        seeds: [a.node.address!],
      });
      // The expired client redials its seed meanwhile (and is refused again): look for the audience refusal.
      await waitUntil(() => a.refusals().some((l) => /aud/.test(l)), 3000, 'the audience refusal');
    });

    it('a client refuses an impostor server and never gives it the token', async () => {
      const net = new MemoryNetwork();
      const presented: (string | undefined)[] = [];
      const impostor = await server(net, 'alice', {
        key: keys.mallory.secretKey,
        trust: {},
        authenticate: (info) => {
          presented.push(info.token);
          return { name: 'anyone', groups: [], via: 'hook', authenticated: true };
        },
      });
      const logger = recordingLogger();
      const client = await node(net, 'cli-4', {
        listen: false,
        logger,
        auth: { token: await jwt('carol'), trust: { alice: keys.alice.publicKey } },
        seeds: [impostor.node.address!],
      });
      await waitUntil(() => logger.lines.some((l) => /does not trust/.test(l)), 3000, 'the client to refuse');
      await assert.rejects(client.call('vault.whoami', {}, { timeout: 200 }), ParleyError);
      assert.deepEqual(
        presented.filter((t) => t !== undefined),
        [],
        'no token reached the impostor',
      );
    });
  });

  it('the authenticate hook decides last: it can add groups, and refuse', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alpha', {
      secret: SECRET,
      authenticate: (info) =>
        info.nodeId === 'banned' || !info.principal ? undefined : { ...info.principal, groups: ['from-hook'] },
    });
    const b = await node(net, 'beta', { auth: { secret: SECRET }, seeds: [a.node.address!] });
    await b.waitFor('vault.whoami', 3000);
    assert.deepEqual(await b.call('vault.whoami'), {
      name: 'beta',
      via: 'secret',
      groups: ['from-hook'],
      caller: 'beta',
    });
    await node(net, 'banned', { auth: { secret: SECRET }, seeds: [a.node.address!] });
    await waitUntil(() => a.refusals().length > 0, 3000, 'the refusal');
    assert.match(a.refusals()[0]!, /refused by the authenticate hook/);
  });

  it('frames sent while a slow check runs are held and delivered once admitted; too many are refused', async () => {
    const net = new MemoryNetwork();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const a = await server(net, 'alpha', {
      secret: SECRET,
      handshakeTimeout: 10_000,
      authenticate: async (info) => {
        if (info.nodeId === 'slow') await gate;
        if (info.nodeId === 'flood') await new Promise(() => {});
        return info.principal;
      },
    });
    const slow = createNode({
      id: 'slow',
      logger: 'silent',
      transport: new MemoryTransport(net, LIMITS),
      auth: { secret: SECRET },
      seeds: [a.node.address!],
    });
    slow.addService({ name: 'slowsvc', actions: { x: () => 1 } });
    started.push(slow);
    await slow.start();
    // The slow side verified alpha at once and sent its INFO (its HELLO names no services): alpha holds it.
    await waitUntil(() => slow.nodes().some((p) => p.id === 'alpha' && p.connected), 3000, 'slow to admit alpha');
    assert.ok(!a.node.nodes().some((p) => p.id === 'slow'), 'not admitted yet');
    release();
    await a.node.waitFor('slowsvc.x', 3000);
    assert.equal(await a.node.call('slowsvc.x'), 1);

    const flood = await node(net, 'flood', { auth: { secret: SECRET }, seeds: [a.node.address!] });
    await waitUntil(() => flood.nodes().some((p) => p.id === 'alpha' && p.connected), 3000, 'flood to admit alpha');
    const mesh = (flood as unknown as { mesh: { send: (...a: unknown[]) => void } }).mesh;
    const oneway = jsonCodec.encode(['vault.whoami', {}, null]);
    for (let i = 0; i < 300; i++) mesh.send('alpha', PacketType.ONEWAY, FrameFlag.JSON, 0, oneway);
    await waitUntil(() => a.refusals().length > 0, 3000, 'the refusal');
    assert.match(a.refusals()[0]!, /too much sent before authentication completed/);
  });

  it('a member cannot pass itself off as another node in an INFO', async () => {
    const net = new MemoryNetwork();
    const a = await server(net, 'alpha', { secret: SECRET });
    const b = await node(net, 'beta', { auth: { secret: SECRET }, seeds: [a.node.address!] });
    await b.waitFor('vault.whoami', 3000);
    const forged = {
      id: 'alpha2',
      address: null,
      incarnation: 'x',
      version: 9,
      services: [{ name: 'evil', actions: ['evil.x'], events: [] }],
      meta: {},
    };
    const mesh = (b as unknown as { mesh: { send: (...a: unknown[]) => void } }).mesh;
    mesh.send('alpha', PacketType.INFO, FrameFlag.JSON, 0, jsonCodec.encode(forged));
    assert.equal(await b.call('vault.whoami').then((r) => (r as { caller: string }).caller), 'beta');
    assert.ok(!a.node.nodes().some((p) => p.id === 'alpha2'));
    await assert.rejects(a.node.waitFor('evil.x', 100), ParleyError);
  });
});

describe('secure by default', () => {
  it('a node on a non-loopback host without authentication refuses to start; insecure: true warns once', async () => {
    const open = createNode({ id: 'open', host: '0.0.0.0', logger: 'silent' });
    await assert.rejects(
      open.start(),
      (e: unknown) =>
        ParleyError.is(e, 'FAILED_PRECONDITION') &&
        /auth\.secret/.test((e as Error).message) &&
        /insecure: true/.test((e as Error).message),
    );
    await open.stop();
    const logger = recordingLogger();
    const insecure = createNode({ id: 'insecure', host: '0.0.0.0', insecure: true, logger });
    await insecure.start();
    try {
      assert.equal(logger.lines.filter((l) => /INSECURE/.test(l)).length, 1);
    } finally {
      await insecure.stop();
    }
    const secured = createNode({ id: 'secured', host: '0.0.0.0', auth: { secret: SECRET }, logger: recordingLogger() });
    await secured.start();
    await secured.stop();
    const loopback = createNode({ id: 'loopback', host: '127.0.0.1', logger: 'silent' });
    await loopback.start();
    await loopback.stop();
  });
});
