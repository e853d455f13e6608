import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defineService } from '../../node/service.js';
import { waitUntil } from '../../node/testing/test-cluster.js';
import { type KvServer, startServer } from '../server/start-server.js';
import { createRegisteredNode, REGISTRY_PREFIX } from './registry-discovery.js';

describe('registry discovery', () => {
  let dir: string;
  let server: KvServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-reg-'));
    server = await startServer({ id: 'r1', dataDir: join(dir, 'r1'), listen: '127.0.0.1:0', logger: 'silent' });
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('nodes given servers find each other through the registry; a graceful stop deregisters at once', async () => {
    const echo = defineService({ name: 'echo', actions: { say: (p: { text: string }) => p.text } });
    // A TTL far longer than the waits below: if a's key goes, the stop revoked it (expiry cannot explain it).
    const a = createRegisteredNode({
      id: 'reg-a',
      servers: [server.address],
      logger: 'silent',
      registryTtlMs: 120_000,
    });
    a.node.addService(echo);
    const b = createRegisteredNode({ id: 'reg-b', servers: [server.address], logger: 'silent' });
    await a.node.start();
    await b.node.start();
    await Promise.all([a.registry.registered, b.registry.registered]);
    await b.node.waitFor('echo.say', 15_000);
    assert.equal(await b.node.call('echo.say', { text: 'hi' }), 'hi');
    await waitUntil(() => b.registry.members().has('reg-a'), 10_000, 'b sees a in the registry');
    const key = new TextEncoder().encode(`${REGISTRY_PREFIX}reg-a`);
    const present = server.member.sm.read({ range: { key } });
    assert.ok(present.ok && present.result.type === 'range' && present.result.kvs.length === 1);
    await a.node.stop();
    await waitUntil(() => !b.registry.members().has('reg-a'), 20_000, 'a leaves the registry');
    const gone = server.member.sm.read({ range: { key } });
    assert.ok(gone.ok && gone.result.type === 'range' && gone.result.kvs.length === 0);
    await b.node.stop();
  });
});
