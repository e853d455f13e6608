/**
 * A refused handshake is a typed value (transport/connection-refusal.ts): the refused side learns
 * the code and reason from the refuser's GOODBYE, both sides record it per address and peer, a
 * dial fails with it, and `waitFor` fails at once when every seed refused instead of timing out.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { ConnectionRefusal } from '../transport/connection-refusal.js';
import { MemoryNetwork, MemoryTransport } from '../transport/memory-transport.js';
import type { AuthOptions } from '../transport/security/auth-options.js';
import { generateNodeKeys } from '../transport/security/node-keys.js';
import { ParleyError } from '../wire/parley-error.js';
import { createNode, type ParleyNode } from './node.js';
import type { NodeOptions } from './options.js';

const LIMITS = { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 };
const SECRET = 'correct horse battery staple, and then some more';
const keys = { alice: generateNodeKeys(), bob: generateNodeKeys(), mallory: generateNodeKeys() };
const trust = { alice: keys.alice.publicKey, bob: keys.bob.publicKey };

/** A refusal error as a dial or waitFor gives it. */
function refusalOf(err: unknown): { code: string; reason: unknown; refusedBy: unknown } {
  assert.ok(err instanceof ParleyError, `expected a ParleyError, got ${String(err)}`);
  const d = err.details as { reason?: unknown; refusedBy?: unknown };
  return { code: err.code, reason: d.reason, refusedBy: d.refusedBy };
}

describe('refused handshakes', () => {
  const started: ParleyNode[] = [];
  after(async () => {
    await Promise.all(started.map((n) => n.stop()));
  });

  async function node(net: MemoryNetwork, id: string, options: Partial<NodeOptions> = {}, listen = true) {
    const n = createNode({
      id,
      logger: 'silent',
      transport: new MemoryTransport(net, LIMITS, listen),
      gossipInterval: 50,
      ...options,
    });
    started.push(n);
    await n.start();
    return n;
  }

  /** A client of `server` whose waitFor must fail at once (the timeout is far beyond the test's patience). */
  async function refusedClient(net: MemoryNetwork, server: ParleyNode, id: string, auth?: AuthOptions) {
    const seen: ConnectionRefusal[] = [];
    const client = await node(net, id, { seeds: [server.address!], ...(auth ? { auth } : {}) }, false);
    client.onRefusal((r) => seen.push(r));
    const err = await client.waitFor('vault.get', 600_000).then(
      () => assert.fail('the client was admitted'),
      (e: unknown) => e,
    );
    return { client, err: refusalOf(err), seen };
  }

  it('a wrong secret: the client fails with UNAUTHENTICATED wrong-secret; both sides record it', async () => {
    const net = new MemoryNetwork();
    const server = await node(net, 'alpha', { auth: { secret: SECRET } });
    const { client, err, seen } = await refusedClient(net, server, 'gamma', { secret: `${SECRET}!` });
    // Each side checks the other's proof: whichever check concludes first decides who refused.
    assert.deepEqual(
      { ...err, refusedBy: undefined },
      { code: 'UNAUTHENTICATED', reason: 'wrong-secret', refusedBy: undefined },
    );
    const mine = client.lastRefusal(server.address!);
    assert.equal(mine?.reason, 'wrong-secret');
    assert.equal(mine?.by, err.refusedBy);
    assert.equal(mine?.peerId, 'alpha');
    assert.match(mine!.message, /wrong auth.secret/);
    assert.equal(client.lastRefusal('alpha'), mine, 'also found by the peer id');
    assert.ok(seen.length > 0 && seen.every((r) => r.reason === 'wrong-secret'));
    const theirs = server.lastRefusal('gamma');
    assert.equal(theirs?.by, 'local');
    assert.equal(theirs?.code, 'UNAUTHENTICATED');
    assert.equal(theirs?.reason, 'wrong-secret');
  });

  it('an untrusted key, and a trusted key claiming another node id', async () => {
    const net = new MemoryNetwork();
    const server = await node(net, 'alice', { auth: { key: keys.alice.secretKey, trust } });
    const mallory = await refusedClient(net, server, 'mallory', { key: keys.mallory.secretKey, trust });
    assert.deepEqual(mallory.err, { code: 'UNAUTHENTICATED', reason: 'untrusted-key', refusedBy: 'peer' });
    const carol = await refusedClient(net, server, 'carol', { key: keys.bob.secretKey, trust });
    assert.deepEqual(carol.err, { code: 'UNAUTHENTICATED', reason: 'id-mismatch', refusedBy: 'peer' });
  });

  it('this node refusing a server it does not trust fails the same way, by: local', async () => {
    const net = new MemoryNetwork();
    const server = await node(net, 'mallory', { auth: { key: keys.mallory.secretKey, trust } });
    const { err } = await refusedClient(net, server, 'bob', { key: keys.bob.secretKey, trust });
    assert.deepEqual(err, { code: 'UNAUTHENTICATED', reason: 'untrusted-key', refusedBy: 'local' });
  });

  it('a client without credentials learns no-credentials from the GOODBYE that follows its own admission', async () => {
    const net = new MemoryNetwork();
    const server = await node(net, 'alice', { auth: { key: keys.alice.secretKey, trust } });
    const { client, err } = await refusedClient(net, server, 'stranger');
    assert.deepEqual(err, { code: 'UNAUTHENTICATED', reason: 'no-credentials', refusedBy: 'peer' });
    assert.equal(client.lastRefusal(server.address!)?.peerId, 'alice');
  });

  it('expired and wrong-audience tokens: token-expired and bad-token', async () => {
    const issuer = generateKeyPairSync('ed25519');
    const tokens = {
      issuer: 'https://id.example',
      audience: 'parley',
      keys: [issuer.publicKey.export({ format: 'jwk' })],
    };
    const jwt = (exp: number | string, aud = 'parley') =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer('https://id.example')
        .setAudience(aud)
        .setSubject('carol')
        .setExpirationTime(exp)
        .sign(issuer.privateKey);
    const net = new MemoryNetwork();
    const server = await node(net, 'alice', { auth: { key: keys.alice.secretKey, trust, tokens } });
    const serverTrust = { alice: keys.alice.publicKey };
    const expired = await refusedClient(net, server, 'cli-1', {
      token: await jwt(Math.floor(Date.now() / 1000) - 600),
      trust: serverTrust,
    });
    assert.deepEqual(expired.err, { code: 'UNAUTHENTICATED', reason: 'token-expired', refusedBy: 'peer' });
    const audience = await refusedClient(net, server, 'cli-2', { token: await jwt('5m', 'other'), trust: serverTrust });
    assert.deepEqual(audience.err, { code: 'UNAUTHENTICATED', reason: 'bad-token', refusedBy: 'peer' });
  });

  it('waitFor keeps waiting while one seed of two accepts; a handshake that succeeds clears the refusal', async () => {
    const net = new MemoryNetwork();
    const open = await node(net, 'open', { auth: { secret: SECRET } });
    open.addService({ name: 'vault', actions: { get: () => 'v' } });
    const other = await node(net, 'other', { auth: { secret: `${SECRET}?` } });
    const client = await node(net, 'beta', { seeds: [other.address!, open.address!], auth: { secret: SECRET } }, false);
    await client.waitFor('vault.get', 600_000);
    assert.equal(await client.call('vault.get'), 'v');
    assert.equal(client.lastRefusal(other.address!)?.reason, 'wrong-secret');
    assert.equal(client.lastRefusal(open.address!), undefined);
  });
});
