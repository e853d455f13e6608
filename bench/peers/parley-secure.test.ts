/**
 * The security benchmark's systems do what their names say: each secured server and client connect and echo, a
 * fresh-client series completes, and sec-authz's server enforces its policy (so the benchmark measures a policy
 * being checked, not an open door). Certificates are made with openssl; skipped without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNode, type ParleyNode } from '../../src/index.js';
import { hasOpenssl } from '../../src/transport/testing/test-pki.js';
import { loadSecureSystem, securityOptions } from './parley-secure.js';
import { SECURE_SYSTEMS } from './registry.js';
import { makeSecurityMaterial, type SecurityMaterial } from './security-material.js';

const skip = hasOpenssl() ? false : 'openssl not found: the secured systems need certificates';

describe('security benchmark systems', { skip }, () => {
  let material: SecurityMaterial;
  let dispose: () => void;
  before(() => {
    ({ material, dispose } = makeSecurityMaterial());
  });
  after(() => dispose());

  for (const name of SECURE_SYSTEMS) {
    it(`${name}: the client echoes through the server, and fresh clients connect one after another`, async () => {
      const system = loadSecureSystem(name);
      const server = await system.startServer();
      const client = await system.startClient(server.address);
      try {
        assert.deepEqual(await client.call({ a: 1, b: 'hello-par' }), { a: 1, b: 'hello-par' });
        const series = await client.handshakes!(2);
        assert.equal(series.count, 2);
        assert.ok(series.p50Ms > 0 && series.maxMs >= series.p50Ms);
      } finally {
        await client.stop();
        await server.stop();
      }
    });
  }

  it('sec-authz: the policy is in force on the server (an action no rule allows is denied)', async () => {
    const nodes: ParleyNode[] = [];
    try {
      const server = createNode({
        id: 'bench-server',
        host: '127.0.0.1',
        port: 0,
        logger: 'silent',
        ...securityOptions('sec-authz', 'bench-server', material),
      });
      nodes.push(server);
      server.addService({ name: 'bench', actions: { echo: (p: unknown) => p } });
      server.addService({ name: 'admin', actions: { reset: () => 'reset' } });
      await server.start();
      const client = createNode({
        id: 'bench-client',
        port: null,
        seeds: [server.address!],
        logger: 'silent',
        ...securityOptions('sec-authz', 'bench-client', material),
      });
      nodes.push(client);
      await client.start();
      await client.waitFor('admin.reset', 10_000);
      assert.equal(await client.call('bench.echo', 'ok'), 'ok');
      await assert.rejects(client.call('admin.reset'), { code: 'PERMISSION_DENIED' });
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
