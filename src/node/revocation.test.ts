/**
 * Revocation without restart: a key removed from a node's trust file (re-read live), a token
 * signing key removed, changed groups, and a token past its `exp` close the connections they
 * authenticated — with a log line and a `connection-revoked` audit entry — and the peer is refused
 * when it comes back. A broken trust file changes nothing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { waitUntil } from '../base/testing/wait-until.js';
import { MemoryNetwork, MemoryTransport } from '../transport/memory-transport.js';
import type { AuthOptions } from '../transport/security/auth-options.js';
import { generateNodeKeys } from '../transport/security/node-keys.js';
import type { AuditEntry } from './authorization/audit-log.js';
import { createNode, type ParleyNode } from './node.js';

const LIMITS = { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 };
const keys = { alice: generateNodeKeys(), bob: generateNodeKeys(), carol: generateNodeKeys() };

describe('revocation without restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-revocation-'));
  const started: ParleyNode[] = [];
  after(async () => {
    await Promise.all(started.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function node(net: MemoryNetwork, id: string, auth: AuthOptions, seeds: string[] = [], listen = true) {
    const audit: AuditEntry[] = [];
    const n = createNode({
      id,
      logger: 'silent',
      transport: new MemoryTransport(net, LIMITS, listen),
      gossipInterval: 50,
      auth,
      seeds,
      audit: (e) => audit.push(e),
    });
    started.push(n);
    await n.start();
    n.addService({ name: `${id}-svc`, actions: { ping: () => 'pong' } });
    return { node: n, audit };
  }

  const connected = (n: ParleyNode, id: string) => n.nodes().some((p) => p.id === id && p.connected);

  it('a key removed from the trust file: its connection is closed, audited, and refused when it returns', async () => {
    const trustFile = join(dir, 'trust.json');
    const all = { alice: keys.alice.publicKey, bob: keys.bob.publicKey, carol: keys.carol.publicKey };
    writeFileSync(trustFile, JSON.stringify(all));
    const net = new MemoryNetwork();
    const alice = await node(net, 'alice', { key: keys.alice.secretKey, trust: trustFile });
    const bob = await node(net, 'bob', { key: keys.bob.secretKey, trust: all }, [alice.node.address!]);
    const carol = await node(net, 'carol', { key: keys.carol.secretKey, trust: all }, [alice.node.address!]);
    await bob.node.waitFor('alice-svc.ping', 5000);
    await carol.node.waitFor('alice-svc.ping', 5000);

    // A broken version is refused, and nobody is disconnected.
    writeFileSync(trustFile, '{ not json');
    await waitUntil(() => alice.audit.some((e) => e.event === 'auth-rejected'), 5000, 'the rejection');
    assert.ok(connected(alice.node, 'bob') && connected(alice.node, 'carol'));

    const { bob: _removed, ...withoutBob } = all;
    writeFileSync(trustFile, JSON.stringify(withoutBob));
    await waitUntil(() => !connected(alice.node, 'bob'), 5000, 'bob disconnected');
    const entry = alice.audit.find((e) => e.event === 'connection-revoked');
    assert.equal(entry?.principal, 'bob');
    assert.match(entry?.reason ?? '', /the key of 'bob' was removed from the trust list/);
    assert.ok(alice.audit.some((e) => e.event === 'auth-reloaded' && e.source === trustFile));
    await waitUntil(() => bob.node.lastRefusal(alice.node.address!) !== undefined, 5000, "bob's refusal");
    assert.equal(bob.node.lastRefusal(alice.node.address!)?.reason, 'revoked');
    assert.ok(connected(alice.node, 'carol'), 'carol stays');
    assert.equal(await carol.node.call('alice-svc.ping'), 'pong');
    // Bob's key, back again on a new connection: refused.
    const again = await node(net, 'bob', { key: keys.bob.secretKey, trust: all }, [alice.node.address!], false);
    const err = await again.node.waitFor('alice-svc.ping', 600_000).catch((e: unknown) => e);
    assert.equal((err as { details?: { reason?: string } }).details?.reason, 'untrusted-key');
  });

  it('changed groups in updateAuth revoke too (the principal must authenticate again to carry them)', async () => {
    const net = new MemoryNetwork();
    const trust = { alice: keys.alice.publicKey, bob: keys.bob.publicKey };
    const alice = await node(net, 'alice', { key: keys.alice.secretKey, trust });
    await node(net, 'bob', { key: keys.bob.secretKey, trust }, [alice.node.address!]);
    await alice.node.waitFor('bob-svc.ping', 5000);
    assert.throws(() => alice.node.updateAuth({ trust: { alice: 'PARLEY-PK-NOPE' } }), /auth.trust\['alice'\]/);
    assert.ok(connected(alice.node, 'bob'), 'an invalid update changes nothing');
    alice.node.updateAuth({ trust: { ...trust, bob: { publicKey: keys.bob.publicKey, groups: ['admins'] } } });
    await waitUntil(() => !connected(alice.node, 'bob'), 5000, 'bob disconnected');
    assert.match(alice.audit.find((e) => e.event === 'connection-revoked')?.reason ?? '', /groups of 'bob' changed/);
  });

  describe('tokens', () => {
    const issuer = generateKeyPairSync('ed25519');
    const other = generateKeyPairSync('ed25519');
    const tokens = {
      issuer: 'https://id.example',
      audience: 'parley',
      keys: [issuer.publicKey.export({ format: 'jwk' })],
    };
    const jwt = (exp: number | string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer('https://id.example')
        .setAudience('parley')
        .setSubject('dave')
        .setExpirationTime(exp)
        .sign(issuer.privateKey);
    const serverTrust = { alice: keys.alice.publicKey };

    it('a signing key removed from the tokens file closes the connections of the tokens it signed', async () => {
      const tokensFile = join(dir, 'tokens.json');
      writeFileSync(tokensFile, JSON.stringify(tokens));
      const net = new MemoryNetwork();
      const alice = await node(net, 'alice', { key: keys.alice.secretKey, trust: serverTrust, tokens: tokensFile });
      const client = await node(
        net,
        'cli-1',
        { token: await jwt('5m'), trust: serverTrust },
        [alice.node.address!],
        false,
      );
      await client.node.waitFor('alice-svc.ping', 5000);
      writeFileSync(tokensFile, JSON.stringify({ ...tokens, keys: [other.publicKey.export({ format: 'jwk' })] }));
      await waitUntil(() => !connected(alice.node, 'cli-1'), 5000, 'the client disconnected');
      const entry = alice.audit.find((e) => e.event === 'connection-revoked');
      assert.equal(entry?.principal, 'dave');
      assert.equal(entry?.via, 'token');
      assert.match(entry?.reason ?? '', /signature does not verify/);
    });

    it('a token past its exp closes its connection; a client with a token function comes back with a fresh one', async () => {
      const net = new MemoryNetwork();
      const alice = await node(net, 'alice', { key: keys.alice.secretKey, trust: serverTrust, tokens });
      let issued = 0;
      const token = () => {
        issued++;
        // The first token expires in two seconds; the next ones in five minutes.
        return jwt(issued === 1 ? Math.floor(Date.now() / 1000) + 2 : '5m');
      };
      const client = await node(net, 'cli-2', { token, trust: serverTrust }, [alice.node.address!], false);
      const refusals: string[] = [];
      client.node.onRefusal((r) => refusals.push(`${r.by} ${r.code} ${r.reason}`));
      await client.node.waitFor('alice-svc.ping', 5000);
      await waitUntil(() => refusals.length > 0, 10_000, 'the expiry');
      assert.deepEqual(refusals, ['peer UNAUTHENTICATED token-expired']);
      assert.ok(alice.audit.some((e) => e.event === 'connection-revoked' && /expired/.test(e.reason ?? '')));
      await waitUntil(() => issued >= 2 && connected(alice.node, 'cli-2'), 10_000, 'the client back');
      await client.node.waitFor('alice-svc.ping', 10_000);
      assert.equal(await client.node.call('alice-svc.ping'), 'pong');
    });
  });
});
