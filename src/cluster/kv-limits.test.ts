import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { DEFAULT_LIMITS, maxCommandBytesFor } from '../kv/limits.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';
import { ParleyError } from '../wire/parley-error.js';
import { connectKv, type KvClient } from './client/kv-client.js';
import { type KvServer, startServer } from './server/start-server.js';

/**
 * Commands are validated on the member that receives them, before they are proposed: a refused
 * command never reaches any member's WAL, and size limits leave room for the replication
 * envelope, so whatever the leader accepts reaches the followers.
 */

/** Bytes of every file under `dir` (WAL segments and snapshots). */
function diskBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? diskBytes(p) : statSync(p).size;
  }
  return n;
}

async function startCluster(dir: string, maxFrameSize?: number): Promise<KvServer[]> {
  const peers: Record<string, string | null> = { s1: null, s2: null, s3: null };
  const servers: KvServer[] = [];
  for (const id of ['s1', 's2', 's3']) {
    const s = await startServer({
      id,
      dataDir: join(dir, id),
      listen: '127.0.0.1:0',
      peers: { ...peers },
      logger: 'silent',
      raft: { tickMs: 25 },
      ...(maxFrameSize === undefined ? {} : { maxFrameSize }),
    });
    peers[id] = s.address;
    servers.push(s);
  }
  return servers;
}

const isInvalid = (pattern: RegExp) => (e: unknown) => ParleyError.is(e, 'INVALID_ARGUMENT') && pattern.test(e.message);

describe('commands are validated before they are proposed (default 16 MiB frames)', { timeout: 120_000 }, () => {
  let dir: string;
  let servers: KvServer[];
  let kv: KvClient;
  const wal = () => servers.reduce((n, s) => n + diskBytes(join(dir, s.member.id)), 0);
  const everyMemberHas = (key: string, length: number) =>
    waitUntil(
      () => servers.every((s) => s.member.sm.store.get(key)?.value.length === length),
      20_000,
      `every member applied ${key}`,
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv-limits-'));
    servers = await startCluster(dir);
    kv = await connectKv({ servers: servers.map((s) => s.address), timeoutMs: 20_000 });
    await kv.put('warm', 'up');
    await everyMemberHas('warm', 2);
  });

  after(async () => {
    await kv.close();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refused commands leave every WAL as it was; writes continue', async () => {
    const before = wal();
    // Fits in a request frame but not in an append message with its envelope: refused up front.
    const huge = new Uint8Array(DEFAULT_MAX_FRAME_SIZE - 200);
    await assert.rejects(kv.put('huge', huge), isInvalid(/value is \d+ bytes; the limit is/));
    await assert.rejects(kv.put('big', new Uint8Array(DEFAULT_LIMITS.maxValueBytes + 1)), isInvalid(/value is/));
    await assert.rejects(kv.put('k', 'v', { lease: 'x' as unknown as number }), isInvalid(/lease/));
    await assert.rejects(
      kv.txn({ success: Array.from({ length: 129 }, () => ({ type: 'put' as const, key: 'k', value: 'v' })) }),
      isInvalid(/txn has 129 operations/),
    );
    // Membership changes are replicated too: their id and address are bounded before proposing.
    await assert.rejects(kv.cluster.add('n'.repeat(1024 * 1024), '127.0.0.1:1'), isInvalid(/member id/));
    await assert.rejects(kv.cluster.add('s4', `${'h'.repeat(1024 * 1024)}:1`), isInvalid(/address/));
    assert.equal(wal(), before, 'no member wrote anything for the refused commands');
    await kv.put('after', 'ok');
    await everyMemberHas('after', 2);
  });

  it('a put at the value limit replicates to every member', async () => {
    await kv.put('at-limit', new Uint8Array(DEFAULT_LIMITS.maxValueBytes));
    await everyMemberHas('at-limit', DEFAULT_LIMITS.maxValueBytes);
  });

  it('unknown fields are stripped before proposing: a 1 MiB extra field costs no WAL', async () => {
    const leader = servers.find((s) => s.member.isLeader)!;
    const before = wal();
    await leader.member.propose({ type: 'put', key: 'junk', value: 'v', junk: new Uint8Array(1024 * 1024) });
    await everyMemberHas('junk', 1);
    const grown = wal() - before;
    assert.ok(grown < 3 * 4096, `the WALs grew by ${grown} bytes for a 1-byte put`);
  });
});

describe('size limits follow the frame size (256 KiB frames)', { timeout: 120_000 }, () => {
  const frame = 256 * 1024;
  const maxCommand = maxCommandBytesFor(frame);
  let dir: string;
  let servers: KvServer[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv-frames-'));
    servers = await startCluster(dir, frame);
    await waitUntil(() => servers.some((s) => s.member.isLeader), 20_000, 'a leader');
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a command of exactly the derived limit replicates; one byte more is refused and never logged', async () => {
    const leader = servers.find((s) => s.member.isLeader)!;
    // Encoded put without retry id: tag, flags, key length (4), key 'x', value.
    const atLimit = new Uint8Array(maxCommand - 7);
    const before = servers.reduce((n, s) => n + diskBytes(join(dir, s.member.id)), 0);
    await assert.rejects(
      leader.member.propose({ type: 'put', key: 'x', value: new Uint8Array(maxCommand - 6) }),
      isInvalid(/limit is/),
    );
    assert.equal(
      servers.reduce((n, s) => n + diskBytes(join(dir, s.member.id)), 0),
      before,
    );
    // Several commands at the limit in one go: one append message each, one frame each.
    await Promise.all(['x', 'y', 'z'].map((key) => leader.member.propose({ type: 'put', key, value: atLimit })));
    await waitUntil(
      () =>
        servers.every((s) => ['x', 'y', 'z'].every((k) => s.member.sm.store.get(k)?.value.length === atLimit.length)),
      20_000,
      'every member applied the puts at the limit',
    );
  });
});
