/**
 * `startServer` and `connectKv` with authentication and with TLS: the options reach the nodes
 * they create, so a client with the credentials reads and writes, and one without is refused and
 * writes nothing. The TLS half makes its certificates with openssl (skipped without it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ParleyError } from '../wire/parley-error.js';
import { connectKv } from './client/kv-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const SECRET = 'a-cluster-secret-for-the-kv-client-test';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A CA and two certificates it signs, named by their CN (no DNS/URI SAN: the CN is the principal). */
function makePki(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
  const leaf = (name: string) => {
    writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  leaf('kv-tls');
  leaf('ops');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    ca: read('ca.crt'),
    server: { cert: read('kv-tls.crt'), key: read('kv-tls.key') },
    client: { cert: read('ops.crt'), key: read('ops.key') },
  };
}

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
    const pki = makePki(dir);
    const server = await startServer({
      id: 'kv-tls',
      dataDir: join(dir, 'kv-tls'),
      listen: '127.0.0.1:0',
      tls: { ...pki.server, ca: pki.ca, mutual: true },
      auth: { tls: true },
    });
    servers.push(server);
    const kv = await connectKv({
      id: 'ops',
      servers: [server.address],
      tls: { ...pki.client, ca: pki.ca },
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
