import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Context } from '../../src/node/context.js';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import type { TlsOptions } from '../../src/transport/tls-options.js';
import { ParleyError } from '../../src/wire/parley-error.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Pki {
  ca: string;
  rogueCa: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  rogue: { cert: string; key: string };
}

/** A CA, a server and a client certificate signed by it, and a rogue CA with its own client certificate. */
function makePki(dir: string): Pki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    );
  };
  const leaf = (name: string, signer: string) => {
    writeFileSync(
      join(dir, `${name}.ext`),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
    );
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${signer}.crt`,
      '-CAkey',
      `${signer}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  ca('parley-test-ca');
  ca('rogue-ca');
  leaf('server-node', 'parley-test-ca');
  leaf('client-node', 'parley-test-ca');
  leaf('rogue-node', 'rogue-ca');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    ca: read('parley-test-ca.crt'),
    rogueCa: read('rogue-ca.crt'),
    server: { cert: read('server-node.crt'), key: read('server-node.key') },
    client: { cert: read('client-node.crt'), key: read('client-node.key') },
    rogue: { cert: read('rogue-node.crt'), key: read('rogue-node.key') },
  };
}

const skip = hasOpenssl() ? false : 'openssl not found on this machine: TLS tests need it to make certificates';

describe('TLS and mutual TLS', { skip }, () => {
  let dir: string;
  let pki: Pki;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-tls-'));
    pki = makePki(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function server(mutual: boolean): Promise<ParleyNode> {
    const node = createNode({ id: 'tls-server', logger: 'silent', tls: { ...pki.server, ca: pki.ca, mutual } });
    node.addService({
      name: 'secure',
      actions: {
        whoami: (_p: unknown, ctx: Context) => ({
          cn: ctx.peerIdentity?.commonName ?? null,
          authorized: ctx.peerIdentity?.authorized ?? null,
        }),
      },
    });
    await node.start();
    return node;
  }

  /** Starts a server (mTLS or not) and a client node with `clientTls`, runs `fn`, stops both. */
  async function withPair(
    mutual: boolean,
    clientId: string,
    clientTls: TlsOptions | undefined,
    fn: (client: ParleyNode, server: ParleyNode) => Promise<void>,
  ): Promise<void> {
    const s = await server(mutual);
    const c = createNode({
      id: clientId,
      logger: 'silent',
      port: null,
      seeds: [s.address!],
      ...(clientTls ? { tls: clientTls } : {}),
    });
    await c.start();
    try {
      await fn(c, s);
    } finally {
      await c.stop();
      await s.stop();
    }
  }

  const cannotConnect = (c: ParleyNode) =>
    assert.rejects(c.waitFor('secure.whoami', 1500), (e: unknown) => ParleyError.is(e, 'DEADLINE_EXCEEDED'));

  it('calls work over TLS with a CA-signed server certificate', () =>
    withPair(false, 'tls-client', { ...pki.client, ca: pki.ca }, async (c) => {
      await c.waitFor('secure.whoami', 5000);
      const r = (await c.call('secure.whoami')) as { cn: string | null };
      assert.equal(r.cn, null, 'without mTLS the server does not ask for the client certificate');
    }));

  it('a client that does not trust the server CA cannot connect', () =>
    withPair(false, 'tls-untrusting', { ...pki.rogue, ca: pki.rogueCa }, cannotConnect));

  it('with mTLS the handler sees the client certificate identity', () =>
    withPair(true, 'mtls-client', { ...pki.client, ca: pki.ca }, async (c) => {
      await c.waitFor('secure.whoami', 5000);
      assert.deepEqual(await c.call('secure.whoami'), { cn: 'client-node', authorized: true });
    }));

  it('with mTLS a client whose certificate is from another CA is refused and the server keeps serving', () =>
    withPair(true, 'rogue', { ...pki.rogue, ca: pki.ca }, async (rogue, s) => {
      await cannotConnect(rogue);
      assert.equal(
        rogue.nodes().some((n) => n.id === 'tls-server'),
        false,
        'the rogue never completed a handshake',
      );
      const good = createNode({
        id: 'good',
        logger: 'silent',
        port: null,
        seeds: [s.address!],
        tls: { ...pki.client, ca: pki.ca },
      });
      await good.start();
      try {
        await good.waitFor('secure.whoami', 5000);
        assert.deepEqual(await good.call('secure.whoami'), { cn: 'client-node', authorized: true });
      } finally {
        await good.stop();
      }
    }));

  it('with mTLS a plain TCP client (no TLS at all) cannot connect', () =>
    withPair(true, 'plain', undefined, cannotConnect));
});
