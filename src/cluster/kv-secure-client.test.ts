/**
 * `startServer` and `connectKv` with authentication and with TLS: the options reach the nodes
 * they create, so a client with the credentials reads and writes, and one without is refused and
 * writes nothing. The TLS half makes its certificates with openssl (skipped without it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasOpenssl, makeTestPki } from '../transport/testing/test-pki.js';
import { ParleyError } from '../wire/parley-error.js';
import { connectKv } from './client/kv-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const SECRET = 'a-cluster-secret-for-the-kv-client-test';

describe('connectKv and startServer with auth and TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-kvsec-'));
  const servers: KvServer[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a cluster secret: the client that holds it writes and reads; one without it is refused and writes nothing', async () => {
    const server = await startServer({
      id: 's1',
      dataDir: join(dir, 's1'),
      listen: '127.0.0.1:0',
      auth: { secret: SECRET },
    });
    servers.push(server);
    const kv = await connectKv({ servers: [server.address], auth: { secret: SECRET } });
    try {
      await kv.put('secure/a', 'one');
      assert.equal(await kv.getString('secure/a'), 'one');
      const stranger = await connectKv({ servers: [server.address], timeoutMs: 1500 });
      try {
        await assert.rejects(stranger.put('secure/a', 'two'), (e: unknown) =>
          ParleyError.is(e, 'UNAVAILABLE', 'DEADLINE_EXCEEDED'),
        );
        assert.ok(
          !stranger.node.nodes().some((n) => n.id === 's1' && n.connected),
          'the server is not a peer of the stranger',
        );
      } finally {
        await stranger.close();
      }
      assert.equal(await kv.getString('secure/a'), 'one', "the stranger's put was never applied");
    } finally {
      await kv.close();
    }
  });

  it('mutual TLS: the certificate names the member and the client; a client without a certificate is refused', async (t) => {
    if (!hasOpenssl()) {
      t.skip('openssl is not installed');
      return;
    }
    const pki = makeTestPki(dir, ['kv-tls', 'ops']);
    const server = await startServer({
      id: 'kv-tls',
      dataDir: join(dir, 'kv-tls'),
      listen: '127.0.0.1:0',
      tls: { ...pki.pair('kv-tls'), ca: pki.ca, mutual: true },
      auth: { tls: true },
    });
    servers.push(server);
    const kv = await connectKv({
      id: 'ops',
      servers: [server.address],
      tls: { ...pki.pair('ops'), ca: pki.ca },
      auth: { tls: true },
    });
    try {
      await kv.put('tls/a', 'over tls');
      assert.equal(await kv.getString('tls/a'), 'over tls');
    } finally {
      await kv.close();
    }
    const anonymous = await connectKv({ servers: [server.address], tls: { ca: pki.ca }, timeoutMs: 1500 });
    try {
      await assert.rejects(anonymous.put('tls/a', 'no cert'), (e: unknown) =>
        ParleyError.is(e, 'UNAVAILABLE', 'DEADLINE_EXCEEDED'),
      );
    } finally {
      await anonymous.close();
    }
  });
});
