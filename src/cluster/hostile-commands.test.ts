/**
 * Every command is validated before it is proposed: malformed or oversized `$kv` and `$cluster`
 * calls, sent raw by a node (not through connectKv, which checks some of them itself), are refused
 * with INVALID_ARGUMENT and never reach the log: the commit index does not move. A valid write
 * afterwards moves it by exactly one, which shows the index counts every proposal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { DEFAULT_LIMITS } from '../kv/limits.js';
import { createNode, type ParleyNode } from '../node/node.js';
import { ParleyError } from '../wire/parley-error.js';
import { type KvServer, startServer } from './server/start-server.js';

const big = (n: number) => 'k'.repeat(n);
/** An object with an own `__proto__` key, as a decoder makes it. */
const protoKey = (value: unknown) => JSON.parse(`{"__proto__": ${JSON.stringify(value)}}`) as Record<string, unknown>;

/** [action, params]: each must be refused with INVALID_ARGUMENT before anything is proposed. */
const MALFORMED: readonly [string, unknown][] = [
  ['$kv.put', null],
  ['$kv.put', ['k', 'v']],
  ['$kv.put', 'k=v'],
  ['$kv.put', { key: 123, value: 'v' }],
  ['$kv.put', { key: '', value: 'v' }],
  ['$kv.put', { key: { toString: 1 }, value: 'v' }],
  ['$kv.put', { key: 'k', value: { nested: [1, 2] } }],
  ['$kv.put', { key: big(DEFAULT_LIMITS.maxKeyBytes + 1), value: 'v' }],
  ['$kv.put', { key: 'k', value: new Uint8Array(DEFAULT_LIMITS.maxValueBytes + 1) }],
  ['$kv.put', { key: 'k', value: 'v', lease: 'forever' }],
  ['$kv.put', { key: 'k', value: 'v', lease: -1 }],
  ['$kv.put', { key: 'k', value: 'v', clientId: 5, seq: 1 }],
  ['$kv.put', { key: 'k', value: 'v', clientId: 'c', seq: -1 }],
  ['$kv.put', { key: 'k', value: 'v', clientId: 'c', seq: 1.5 }],
  ['$kv.put', { key: 'k', value: 'v', prevKv: 'yes' }],
  ['$kv.put', { ...protoKey({ key: 'k', value: 'v' }) }],
  ['$kv.delete', { range: 5 }],
  ['$kv.delete', { range: { from: 'a', to: 7 } }],
  ['$kv.delete', {}],
  ['$kv.txn', { success: 'put k v' }],
  ['$kv.txn', { success: [{ type: 'put', value: 'v' }] }],
  ['$kv.txn', { success: [{ type: { toString: 1 }, key: 'k', value: 'v' }] }],
  ['$kv.txn', { success: [{ type: 'txn', success: [] }] }],
  [
    '$kv.txn',
    { success: Array.from({ length: DEFAULT_LIMITS.maxTxnOps + 1 }, () => ({ type: 'put', key: 'k', value: 'v' })) },
  ],
  ['$kv.txn', { compare: [{ key: 'k', target: 'nonsense', op: '=', value: 1 }], success: [] }],
  ['$kv.txn', { compare: [{ key: 'k', target: 'version', op: '~', value: 1 }], success: [] }],
  ['$kv.compact', { revision: -1 }],
  ['$kv.compact', { revision: 1.5 }],
  ['$kv.compact', { revision: 'latest' }],
  ['$kv.leaseGrant', { ttlMs: 'long' }],
  ['$kv.leaseGrant', { id: -5, ttlMs: 1000 }],
  ['$kv.leaseRevoke', { id: 'x' }],
  ['$cluster.add', { id: 'a b', address: '127.0.0.1:1' }],
  ['$cluster.add', { id: 5, address: '127.0.0.1:1' }],
  ['$cluster.add', { id: big(300), address: '127.0.0.1:1' }],
  ['$cluster.add', { id: 's9', address: 'no-port' }],
  ['$cluster.add', { id: 's9', address: `${big(2000)}:1` }],
  ['$cluster.add', ['s9', '127.0.0.1:1']],
  ['$cluster.remove', { id: '' }],
  ['$cluster.remove', { id: ['s1'] }],
  ['$cluster.transferLeader', { to: {} }],
];

describe('malformed $kv and $cluster commands never reach the log', { timeout: 60_000 }, () => {
  let dir: string;
  let server: KvServer;
  let client: ParleyNode;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-hostile-commands-'));
    server = await startServer({ id: 's1', dataDir: join(dir, 's1'), listen: '127.0.0.1:0', logger: 'silent' });
    await waitUntil(() => server.member.isLeader, 10_000, 's1 to lead');
    client = createNode({ id: 'raw-client', port: null, seeds: [server.address], logger: 'silent' });
    await client.start();
    await waitUntil(() => client.nodes().some((n) => n.id === 's1' && n.connected), 10_000, 'the client to see s1');
    await client.call('$kv.put', { key: 'warm', value: 'up' });
  });

  after(async () => {
    await client.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each is refused with INVALID_ARGUMENT; the commit index moves only for the valid write after them', async () => {
    const before = server.member.status().commit;
    const wrong: string[] = [];
    for (const [action, params] of MALFORMED) {
      try {
        await client.call(action, params);
        wrong.push(`${action} ${JSON.stringify(params)?.slice(0, 80)}: accepted`);
      } catch (err) {
        if (!ParleyError.is(err, 'INVALID_ARGUMENT'))
          wrong.push(`${action} ${JSON.stringify(params)?.slice(0, 80)}: ${String(err)}`);
      }
    }
    assert.deepEqual(wrong, [], 'every malformed command is INVALID_ARGUMENT');
    assert.equal(server.member.status().commit, before, 'nothing was proposed for the refused commands');
    await client.call('$kv.put', { key: 'after', value: 'ok' });
    assert.equal(server.member.status().commit, before + 1, 'one valid write is one log entry');
  });
});
