import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../node/testing/test-cluster.js';
import { generateDataKeyLine } from '../raft/wal/data-keyring.js';
import { ParleyError } from '../wire/parley-error.js';
import { connectKv, type KvClient } from './client/kv-client.js';
import { createServer, type KvServer, type ServerOptions, startServer } from './server/start-server.js';

const RAFT = { tickMs: 25, snapshotEvery: 40, snapshotKeep: 5 } as const;
const VALUE = 'PLANTED-AT-REST-VALUE';
const KEY_NAME = 'planted-at-rest-key-name';

/** Every byte under `dir`: what a stolen disk of that member holds. */
function diskBytes(dir: string): Buffer {
  return Buffer.concat(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => readFileSync(join(d.parentPath ?? (d as unknown as { path: string }).path, d.name))),
  );
}

/**
 * A 3-member cluster whose members encrypt their logs and snapshots, each with its own data key
 * (a key file, a keyring, a rotated ring): puts are replicated and read back, nothing on any
 * member's disk holds a value or a key name, and a member restarts only with its key.
 */
describe('three-member cluster with encryption at rest', () => {
  let dir: string;
  const servers = new Map<string, KvServer>();
  let kv: KvClient;
  const keyFile = (name: string, text: string, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  const atRest: Record<string, ServerOptions['encryptionAtRest']> = {};

  const start = async (id: string) => {
    const peers: Record<string, string | null> = { s1: null, s2: null, s3: null };
    for (const [sid, s] of servers) peers[sid] = s.address;
    const s = await startServer({
      id,
      dataDir: join(dir, id),
      listen: '127.0.0.1:0',
      peers,
      logger: 'silent',
      raft: RAFT,
      encryptionAtRest: atRest[id],
    });
    servers.set(id, s);
    return s;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv-at-rest-'));
    atRest.s1 = { keyFile: keyFile('s1.keys', `# s1\n${generateDataKeyLine(1)}\n`) };
    atRest.s2 = { keyring: { keys: [{ id: 7, key: new Uint8Array(32).fill(7) }], active: 7 } };
    atRest.s3 = { keyFile: keyFile('s3.keys', `${generateDataKeyLine(1)}\n${generateDataKeyLine(2)}\n`) };
    await start('s1');
    await start('s2');
    await start('s3');
    kv = await connectKv({ servers: [servers.get('s1')!.address], timeoutMs: 20_000 });
  });

  after(async () => {
    await kv.close();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('replicates puts, past a snapshot, with no value or key name on any disk', async () => {
    let revision = 0;
    for (let i = 0; i < 60; i++) ({ revision } = await kv.put(`${KEY_NAME}-${i}`, `${VALUE}-${i}`));
    await waitUntil(
      () => [...servers.values()].every((s) => s.member.sm.store.revision >= revision),
      20_000,
      'every member applied the puts',
    );
    const got = await kv.get(`${KEY_NAME}-59`);
    assert.equal(got === undefined ? undefined : Buffer.from(got.value).toString(), `${VALUE}-59`);
    for (const id of ['s1', 's2', 's3']) {
      const bytes = diskBytes(join(dir, id));
      assert.ok(
        readdirSync(join(dir, id)).some((f) => f.startsWith('snap-')),
        `${id} took a snapshot`,
      );
      assert.equal(bytes.includes(VALUE), false, `${id}'s disk holds no value`);
      assert.equal(bytes.includes(KEY_NAME), false, `${id}'s disk holds no key name`);
    }
  });

  it('a member restarts with its key and serves what it had; without it, it refuses to start naming the key', async () => {
    await servers.get('s2')!.stop();
    servers.delete('s2');
    await assert.rejects(
      startServer({ id: 's2', dataDir: join(dir, 's2'), listen: '127.0.0.1:0', logger: 'silent', raft: RAFT }),
      (err) => ParleyError.is(err, 'FAILED_PRECONDITION') && /data key 7/.test(err.message),
    );
    const s2 = await start('s2');
    const out = s2.member.sm.read({ range: { key: new TextEncoder().encode(`${KEY_NAME}-3`) } });
    assert.ok(out.ok && out.result.type === 'range');
    if (out.ok && out.result.type === 'range') {
      assert.equal(Buffer.from(out.result.kvs[0]!.value).toString(), `${VALUE}-3`);
    }
    await kv.put(`${KEY_NAME}-after`, VALUE);
    assert.equal(Buffer.from((await kv.get(`${KEY_NAME}-after`))!.value).toString(), VALUE);
  });

  it('a key file other users can read is refused before anything starts', () => {
    const open = keyFile('open.keys', `${generateDataKeyLine(1)}\n`, 0o644);
    assert.throws(
      () =>
        createServer({
          id: 'x',
          dataDir: join(dir, 'x'),
          listen: '127.0.0.1:0',
          logger: 'silent',
          encryptionAtRest: { keyFile: open },
        }),
      (err) => ParleyError.is(err, 'PERMISSION_DENIED') && /chmod 600/.test(err.message),
    );
  });
});
