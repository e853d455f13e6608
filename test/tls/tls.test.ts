/**
 * TLS and mutual TLS between nodes, with certificates this test makes with openssl in a fresh
 * temporary directory (removed afterwards): a CA, server and client certificates signed by it, a
 * rogue CA with its own certificate, and a server certificate that names another host.
 * In-process pairs cover the handshake rules; a server in its own OS process shows that refused
 * clients leave it running.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Context } from '../../src/node/context.js';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import { hasOpenssl, makeTestCa, makeTestLeaf } from '../../src/transport/testing/test-pki.js';
import type { TlsOptions } from '../../src/transport/tls-options.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import { killAll, type NodeProcess, spawnNode, until } from '../integration/harness.js';

interface KeyPair {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

interface Pki {
  ca: string;
  caFile: string;
  rogueCa: string;
  server: KeyPair;
  client: KeyPair;
  rogue: KeyPair;
  /** Signed by the CA, but for another host name (no IP:127.0.0.1). */
  elsewhere: KeyPair;
}

/** A CA with server and client certificates, a rogue CA with its own certificate, and a misnamed server certificate. */
function makePki(dir: string): Pki {
  makeTestCa(dir, 'parley-test-ca');
  makeTestCa(dir, 'rogue-ca');
  makeTestLeaf(dir, 'server-node', 'parley-test-ca', 'IP:127.0.0.1,DNS:localhost');
  makeTestLeaf(dir, 'client-node', 'parley-test-ca', 'IP:127.0.0.1,DNS:localhost');
  makeTestLeaf(dir, 'rogue-node', 'rogue-ca', 'IP:127.0.0.1,DNS:localhost');
  makeTestLeaf(dir, 'elsewhere-node', 'parley-test-ca', 'DNS:elsewhere.invalid');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const pair = (name: string): KeyPair => ({
    cert: read(`${name}.crt`),
    key: read(`${name}.key`),
    certFile: join(dir, `${name}.crt`),
    keyFile: join(dir, `${name}.key`),
  });
  return {
    ca: read('parley-test-ca.crt'),
    caFile: join(dir, 'parley-test-ca.crt'),
    rogueCa: read('rogue-ca.crt'),
    server: pair('server-node'),
    client: pair('client-node'),
    rogue: pair('rogue-node'),
    elsewhere: pair('elsewhere-node'),
  };
}

/**
 * How long a refused client is given to (not) learn the server's services. A handshake on loopback
 * takes milliseconds; a shorter wait could only let a wrongly accepted client slip through.
 */
const REFUSED_WAIT_MS = 1000;

const skip = hasOpenssl() ? false : 'openssl not found on this machine: the TLS tests need it to make certificates';

const tlsOf = (p: KeyPair, ca: string, extra: Partial<TlsOptions> = {}): TlsOptions => ({
  cert: p.cert,
  key: p.key,
  ca,
  ...extra,
});

/** A TLS client with no certificate of its own (it only trusts the CA). */
const noCertificate = (ca: string): TlsOptions => ({ ca });

describe('TLS and mutual TLS', { skip }, () => {
  let dir: string;
  let pki: Pki;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-tls-'));
    pki = makePki(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function server(mutual: boolean, pair: KeyPair = pki.server): Promise<ParleyNode> {
    const node = createNode({ id: 'tls-server', logger: 'silent', tls: { ...tlsOf(pair, pki.ca), mutual } });
    node.addService({
      name: 'secure',
      actions: {
        whoami: (_p: unknown, ctx: Context) => ({
          cn: ctx.peerIdentity?.commonName ?? null,
          authorized: ctx.peerIdentity?.authorized ?? null,
          san: ctx.peerIdentity?.subjectAltName ?? null,
          fingerprint: ctx.peerIdentity?.fingerprint256 ?? null,
        }),
      },
    });
    await node.start();
    return node;
  }

  async function clientOf(id: string, seed: string, tls: TlsOptions | undefined): Promise<ParleyNode> {
    const c = createNode({ id, logger: 'silent', port: null, seeds: [seed], ...(tls ? { tls } : {}) });
    await c.start();
    return c;
  }

  /** Starts a server (mTLS or not) and a client node with `clientTls`, runs `fn`, stops both. */
  async function withPair(
    options: { mutual: boolean; serverPair?: KeyPair },
    clientId: string,
    clientTls: TlsOptions | undefined,
    fn: (client: ParleyNode, server: ParleyNode) => Promise<void>,
  ): Promise<void> {
    const s = await server(options.mutual, options.serverPair);
    let c: ParleyNode | undefined;
    try {
      c = await clientOf(clientId, s.address!, clientTls);
      await fn(c, s);
    } finally {
      await c?.stop();
      await s.stop();
    }
  }

  /** The client never completes a handshake: it learns no service, and a call pinned to the server is UNAVAILABLE. */
  async function cannotConnect(c: ParleyNode): Promise<void> {
    await assert.rejects(c.waitFor('secure.whoami', REFUSED_WAIT_MS), (e: unknown) =>
      ParleyError.is(e, 'DEADLINE_EXCEEDED'),
    );
    assert.equal(
      c.nodes().some((n) => n.id === 'tls-server'),
      false,
      'no handshake completed',
    );
    await assert.rejects(c.call('secure.whoami', {}, { nodeId: 'tls-server', timeout: 2000 }), (e: unknown) =>
      ParleyError.is(e, 'UNAVAILABLE'),
    );
  }

  /** The server still serves a client with a valid certificate. */
  async function stillServes(s: ParleyNode): Promise<void> {
    const good = await clientOf('good', s.address!, tlsOf(pki.client, pki.ca));
    try {
      await good.waitFor('secure.whoami', 5000);
      assert.equal(((await good.call('secure.whoami')) as { cn: string | null }).cn, 'client-node');
    } finally {
      await good.stop();
    }
  }

  it('calls work over TLS with a CA-signed server certificate', () =>
    withPair({ mutual: false }, 'tls-client', tlsOf(pki.client, pki.ca), async (c) => {
      await c.waitFor('secure.whoami', 5000);
      const r = (await c.call('secure.whoami')) as { cn: string | null };
      assert.equal(r.cn, null, 'without mTLS the server does not ask for the client certificate');
    }));

  it('without mTLS a client with no certificate of its own can call', () =>
    withPair({ mutual: false }, 'tls-anonymous', noCertificate(pki.ca), async (c) => {
      await c.waitFor('secure.whoami', 5000);
      assert.equal(((await c.call('secure.whoami')) as { cn: string | null }).cn, null);
    }));

  it('a client that does not trust the server’s CA cannot connect', () =>
    withPair({ mutual: false }, 'tls-untrusting', tlsOf(pki.rogue, pki.rogueCa), cannotConnect));

  it('a client refuses a server whose certificate names another host', () =>
    withPair({ mutual: false, serverPair: pki.elsewhere }, 'tls-strict', tlsOf(pki.client, pki.ca), cannotConnect));

  it('checkServerIdentity: false accepts a CA-signed server certificate for another host', () =>
    withPair(
      { mutual: false, serverPair: pki.elsewhere },
      'tls-lenient',
      tlsOf(pki.client, pki.ca, { checkServerIdentity: false }),
      async (c) => {
        await c.waitFor('secure.whoami', 5000);
        assert.ok(await c.call('secure.whoami'));
      },
    ));

  it('with mTLS the handler sees the client certificate’s identity', () =>
    withPair({ mutual: true }, 'mtls-client', tlsOf(pki.client, pki.ca), async (c) => {
      await c.waitFor('secure.whoami', 5000);
      const r = (await c.call('secure.whoami')) as {
        cn: string;
        authorized: boolean;
        san: string;
        fingerprint: string;
      };
      assert.equal(r.cn, 'client-node');
      assert.equal(r.authorized, true);
      assert.match(r.san, /IP Address:127\.0\.0\.1/);
      assert.match(r.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    }));

  it('with mTLS a client without a certificate is refused and the server keeps serving', () =>
    withPair({ mutual: true }, 'no-cert', noCertificate(pki.ca), async (c, s) => {
      await cannotConnect(c);
      await stillServes(s);
    }));

  it('with mTLS a client whose certificate is from another CA is refused and the server keeps serving', () =>
    withPair({ mutual: true }, 'rogue', tlsOf(pki.rogue, pki.ca), async (rogue, s) => {
      await cannotConnect(rogue);
      await stillServes(s);
    }));

  it('with mTLS a plain TCP client (no TLS at all) cannot connect', () =>
    withPair({ mutual: true }, 'plain', undefined, async (c, s) => {
      await cannotConnect(c);
      await stillServes(s);
    }));

  it('a TLS client cannot connect to a plain TCP server', async () => {
    const s = createNode({ id: 'tls-server', logger: 'silent' });
    s.addService({ name: 'secure', actions: { whoami: () => ({ cn: null }) } });
    await s.start();
    const c = await clientOf('tls-to-plain', s.address!, tlsOf(pki.client, pki.ca));
    try {
      await cannotConnect(c);
    } finally {
      await c.stop();
      await s.stop();
    }
  });

  describe('an mTLS server in its own process', () => {
    const procs: NodeProcess[] = [];
    let proc: NodeProcess;
    before(async () => {
      proc = await spawnNode(
        {
          id: 'tls-proc',
          tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile, mutual: true },
        },
        procs,
      );
    });
    after(() => killAll(procs));

    it('refuses clients without a valid certificate, stays up, and serves a valid one with its identity', async () => {
      const refused = [
        ['proc-no-cert', noCertificate(pki.ca)],
        ['proc-rogue', tlsOf(pki.rogue, pki.ca)],
        ['proc-plain', undefined],
      ] as const;
      await Promise.all(
        refused.map(async ([id, tls]) => {
          const c = await clientOf(id, proc.address, tls);
          try {
            await assert.rejects(c.waitFor('svc.whoami', REFUSED_WAIT_MS), (e: unknown) =>
              ParleyError.is(e, 'DEADLINE_EXCEEDED'),
            );
            await assert.rejects(c.call('svc.whoami', {}, { nodeId: 'tls-proc', timeout: 2000 }), (e: unknown) =>
              ParleyError.is(e, 'UNAVAILABLE'),
            );
          } finally {
            await c.stop();
          }
        }),
      );
      assert.equal(proc.alive, true, `the server process survived the refused clients; stderr: ${proc.stderr()}`);
      const good = await clientOf('proc-good', proc.address, tlsOf(pki.client, pki.ca));
      try {
        await good.waitFor('svc.whoami', 5000);
        assert.equal(await good.call('svc.whoami'), 'tls-proc');
        assert.equal(await good.call('svc.add', { a: 1, b: 2 }), 3);
        const peer = (await good.call('svc.peer')) as { commonName?: string; authorized?: boolean } | null;
        assert.equal(peer?.commonName, 'client-node', 'the handler in the server process sees the client CN');
        assert.equal(peer?.authorized, true);
        await until(
          () => good.nodes().some((n) => n.id === 'tls-proc' && n.connected),
          'the valid client to be connected',
        );
      } finally {
        await good.stop();
      }
      assert.equal(proc.alive, true);
    });
  });

  describe('a mutual-TLS mesh of node processes', () => {
    const procs: NodeProcess[] = [];
    after(() => killAll(procs));

    it('three mTLS processes joined through one seed find each other, and each sees the other’s certificate', async () => {
      const tls = { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile, mutual: true };
      const t1 = await spawnNode({ id: 't1', tls }, procs);
      await Promise.all([
        spawnNode({ id: 't2', seeds: [t1.address], tls }, procs),
        spawnNode({ id: 't3', seeds: [t1.address], tls }, procs),
      ]);
      const c = await clientOf('mesh-client', t1.address, tlsOf(pki.client, pki.ca));
      try {
        await until(
          () => ['t1', 't2', 't3'].every((id) => c.nodes().some((n) => n.id === id && n.connected)),
          'the client to meet t1, t2 and t3 over mTLS',
        );
        await until(async () => {
          const views = await Promise.all(
            ['t1', 't2', 't3'].map(
              (id) => c.call('$node.nodes', {}, { nodeId: id }) as Promise<{ id: string; connected: boolean }[]>,
            ),
          );
          return views.every((v) => ['t1', 't2', 't3'].every((id) => v.some((n) => n.id === id && n.connected)));
        }, 'every TLS node to be connected to the other two');
        const direct = (await c.call('svc.peer', {}, { nodeId: 't2' })) as { commonName?: string } | null;
        assert.equal(direct?.commonName, 'client-node', 't2 sees the client’s certificate');
        const nested = (await c.call(
          'svc.nested',
          { target: 'svc.peer', nodeId: 't3' },
          { nodeId: 't1', timeout: 5000 },
        )) as { inner: { commonName?: string; authorized?: boolean } | null };
        assert.equal(nested.inner?.commonName, 'server-node', 't3 sees t1’s certificate on t1’s nested call');
        assert.equal(nested.inner?.authorized, true);
      } finally {
        await c.stop();
      }
    });
  });
});
