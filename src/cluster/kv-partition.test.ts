import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNode } from '../node/node.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { MemoryNetwork, MemoryTransport } from '../transport/memory-transport.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../transport/transport.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';
import { KvClient } from './client/kv-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const limits = { maxFrameSize: DEFAULT_MAX_FRAME_SIZE, maxOutboundBytes: DEFAULT_MAX_OUTBOUND_BYTES };

/**
 * Three members and a client on an in-process network: the leader is cut off from the other
 * members (the client still reaches everyone). The old leader steps down (check-quorum), the
 * majority elects a new one, the client's write lands there, and after healing the old leader
 * catches up.
 */
describe('three members on a memory network with a partitioned leader', () => {
  let dir: string;
  const net = new MemoryNetwork();
  const servers: KvServer[] = [];
  let kv: KvClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kvmem-'));
    for (const id of ['m1', 'm2', 'm3']) {
      const peers: Record<string, string | null> = { m1: null, m2: null, m3: null };
      for (const s of servers) peers[s.member.id] = s.address;
      servers.push(
        await startServer({
          id,
          dataDir: join(dir, id),
          listen: '127.0.0.1:0',
          peers,
          logger: 'silent',
          transport: new MemoryTransport(net, limits),
          raft: { tickMs: 20 },
        }),
      );
    }
    const node = createNode({
      id: 'mem-client',
      seeds: [servers[0]!.address],
      logger: 'silent',
      gossipInterval: 100,
      transport: new MemoryTransport(net, limits, false),
    });
    await node.start();
    kv = new KvClient(node, { timeoutMs: 30_000 });
  });

  after(async () => {
    await kv.close();
    await kv.node.stop();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('elects a new leader on the majority side; the write lands there; the old leader catches up', async () => {
    await kv.put('before', '1');
    let old: KvServer | undefined;
    await waitUntil(() => (old = servers.find((s) => s.member.isLeader)) !== undefined, 20_000, 'a leader');
    for (const s of servers) if (s !== old) net.partition(old!.address, s.address);
    const { revision } = await kv.put('during', '2');
    // Only a majority can commit: the write was committed by a leader on the other side.
    assert.ok(
      servers.some((s) => s !== old && s.member.sm.store.revision >= revision),
      'the majority side applied the write',
    );
    assert.ok(old!.member.sm.store.revision < revision, 'the cut-off member has not seen it yet');
    await waitUntil(() => !old!.member.isLeader, 20_000, 'the cut-off leader steps down');
    net.heal();
    await waitUntil(() => old!.member.sm.store.revision >= revision, 30_000, 'the old leader catches up');
    assert.equal(Buffer.from((await kv.get('during'))!.value).toString(), '2');
  });
});
