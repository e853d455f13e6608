/**
 * Mutual TLS as an authentication mode (issue 11 §1): the certificate names the principal, a
 * member's node id must match it, and a token client verifies the server by its certificate
 * before it sends the token. Certificates are made with openssl in a temporary directory.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { waitUntil } from '../../src/base/testing/wait-until.js';
import type { Context } from '../../src/node/context.js';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/options.js';
import type { Logger } from '../../src/transport/logger.js';
import { hasOpenssl, makeTestPki, NO_OPENSSL, type TestPki } from '../../src/transport/testing/test-pki.js';
import { ParleyError } from '../../src/wire/parley-error.js';

const skip = hasOpenssl() ? false : NO_OPENSSL;

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (m: string) => void lines.push(m);
  return { lines, debug: () => {}, info: add, warn: add, error: add };
}

describe('mutual TLS authentication', { skip }, () => {
  let dir: string;
  let certs: TestPki;
  const nodes: ParleyNode[] = [];
  const callers: string[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-tls-auth-'));
    certs = makeTestPki(dir, ['server', 'alice', 'mallory'], (name) => `DNS:${name},IP:127.0.0.1`);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(options: NodeOptions): Promise<ParleyNode> {
    const n = createNode({ logger: 'silent', ...options });
    nodes.push(n);
    await n.start();
    return n;
  }

  async function server(mutual: boolean, auth: NodeOptions['auth']) {
    const logger = recordingLogger();
    const s = await start({ id: 'server', logger, tls: { ...certs.pair('server'), ca: certs.ca, mutual }, auth });
    s.addService({
      name: 'secure',
      actions: {
        whoami: (_p: unknown, ctx: Context) => {
          callers.push(ctx.callerId);
          return { name: ctx.principal?.name, via: ctx.principal?.via, caller: ctx.callerId };
        },
      },
    });
    return { node: s, logger };
  }

  it('the certificate names the principal of a member', async () => {
    const s = await server(true, { tls: true });
    const alice = await start({
      id: 'alice',
      port: null,
      seeds: [s.node.address!],
      tls: { ...certs.pair('alice'), ca: certs.ca },
      auth: { tls: true },
    });
    await alice.waitFor('secure.whoami', 5000);
    assert.deepEqual(await alice.call('secure.whoami'), { name: 'alice', via: 'tls', caller: 'alice' });
  });

  it("a certificate for 'mallory' claiming the node id 'alice' is refused, and handlers never see 'alice'", async () => {
    const s = await server(true, { tls: true });
    const before = callers.length;
    const mallory = await start({
      id: 'alice',
      port: null,
      seeds: [s.node.address!],
      tls: { ...certs.pair('mallory'), ca: certs.ca },
      auth: { tls: true },
    });
    await waitUntil(() => s.logger.lines.some((l) => /does not match/.test(l)), 5000, 'the refusal');
    assert.match(
      s.logger.lines.join('\n'),
      /node id 'alice' does not match the identity its certificate proves \('mallory'\)/,
    );
    await assert.rejects(mallory.call('secure.whoami', {}, { timeout: 300 }), ParleyError);
    assert.equal(callers.length, before, 'no handler ran for the impostor');
    assert.ok(!s.node.nodes().some((p) => p.id === 'alice' && p.connected));
  });

  it('a token client verifies the server by its certificate, then presents its token over TLS', async () => {
    const issuer = generateKeyPairSync('ed25519');
    const tokens = {
      issuer: 'https://id.example',
      audience: 'parley',
      keys: [issuer.publicKey.export({ format: 'jwk' })],
    };
    const s = await server(false, { tls: true, tokens });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer('https://id.example')
      .setAudience('parley')
      .setSubject('carol')
      .setExpirationTime('5m')
      .sign(issuer.privateKey);
    const client = await start({
      id: 'cli-tls',
      port: null,
      seeds: [s.node.address!],
      tls: { ca: certs.ca },
      auth: { tls: true, token },
    });
    await client.waitFor('secure.whoami', 5000);
    assert.deepEqual(await client.call('secure.whoami'), { name: 'carol', via: 'token', caller: 'cli-tls' });
  });
});
