import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { createNode, type ParleyNode } from '../node/node.js';
import { type MessageType, newMessage } from '../raft/core/messages.js';
import { encodeWireMessage } from '../raft/core/wire-message.js';
import type { Logger } from '../transport/logger.js';
import { connectKv, type KvClient } from './client/kv-client.js';
import { type KvServer, startServer } from './server/start-server.js';

const RAFT = { tickMs: 25 } as const;

/** Records warnings, so the test knows when the members have seen (and dropped) the attack. */
function recordingLogger(lines: string[]): Logger {
  return { debug() {}, info() {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
}

/**
 * A hostile node outside the configuration sends every member forged raft messages: vote
 * requests with terms of Infinity and 2^53 and heartbeats with a term of 2^53 − 1 claiming
 * leadership. Before the `$raft` boundary checked senders and fields, the first persisted an
 * unusable term and no leader was ever elected again, even after a restart of every member.
 */
describe('raft boundary: forged messages from a non-member', () => {
  let dir: string;
  const servers = new Map<string, KvServer>();
  const warnings = new Map<string, string[]>();
  let mallory: ParleyNode;
  let kv: KvClient;

  const start = async (id: string) => {
    const peers: Record<string, string | null> = { r1: null, r2: null, r3: null };
    for (const [sid, s] of servers) peers[sid] = s.address;
    const lines = warnings.get(id) ?? [];
    warnings.set(id, lines);
    const s = await startServer({
      id,
      dataDir: join(dir, id),
      listen: '127.0.0.1:0',
      peers,
      logger: recordingLogger(lines),
      raft: RAFT,
    });
    servers.set(id, s);
    return s;
  };
  const terms = () => [...servers.values()].map((s) => s.member.status().term);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-raftb-'));
    for (const id of ['r1', 'r2', 'r3']) await start(id);
    kv = await connectKv({ servers: [...servers.values()].map((s) => s.address), timeoutMs: 20_000 });
    await kv.put('before', '1');
    mallory = createNode({
      id: 'mallory',
      port: null,
      seeds: [...servers.values()].map((s) => s.address),
      logger: 'silent',
    });
    await mallory.start();
    await waitUntil(
      () => [...servers.keys()].every((id) => mallory.nodes().some((n) => n.id === id && n.connected)),
      20_000,
      'the attacker connected to every member',
    );
  });

  after(async () => {
    await kv.close();
    await mallory.stop();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops them, elections still work, and a write succeeds, also after restarting every member', async () => {
    const forged = (to: string, type: MessageType, term: number) =>
      encodeWireMessage(
        newMessage({ type, from: 'mallory', to, term, logTerm: 2 ** 53 - 1, index: 2 ** 53 - 1, leaderTransfer: true }),
      );
    for (const id of servers.keys()) {
      mallory.send(
        '$raft.step',
        [
          [
            'kv',
            [
              forged(id, 'MsgVote', Number.POSITIVE_INFINITY),
              forged(id, 'MsgVote', 2 ** 53),
              forged(id, 'MsgHeartbeat', 2 ** 53 - 1),
              forged(id, 'MsgTimeoutNow', 2 ** 53 - 1),
            ],
          ],
        ],
        { nodeId: id },
      );
    }
    await waitUntil(
      () => [...warnings.values()].every((lines) => lines.some((l) => l.includes("from 'mallory'"))),
      20_000,
      'every member dropped the attacker',
    );
    assert.ok(
      terms().every((t) => t < 1000),
      `terms stay small: ${terms()}`,
    );
    // A fresh election (leadership handed to another member) and a write.
    const status = await kv.status();
    const other = status.voters.find((v) => v !== status.leader)!;
    await kv.cluster.transferLeader(other);
    await waitUntil(
      () => [...servers.values()].some((s) => s.member.isLeader && s.member.id === other),
      20_000,
      `leadership moved to ${other}`,
    );
    assert.ok((await kv.put('after-attack', '1')).revision > 0);
    // Restart every member: the persisted terms must allow an election.
    const ids = [...servers.keys()];
    await Promise.all([...servers.values()].map((s) => s.stop()));
    servers.clear();
    for (const id of ids) await start(id);
    await kv.close();
    kv = await connectKv({ servers: [...servers.values()].map((s) => s.address), timeoutMs: 20_000 });
    assert.ok((await kv.put('after-restart', '1')).revision > 0);
    assert.ok(
      terms().every((t) => t < 1000),
      `terms stay small: ${terms()}`,
    );
  });

  it('a member waiting to join listens only to the members it was told about', async () => {
    const lines: string[] = [];
    warnings.set('r4', lines);
    const peers: Record<string, string> = {};
    for (const [sid, srv] of servers) peers[sid] = srv.address;
    const joiner = await startServer({
      id: 'r4',
      dataDir: join(dir, 'r4'),
      listen: '127.0.0.1:0',
      peers,
      join: true,
      logger: recordingLogger(lines),
      raft: RAFT,
    });
    try {
      assert.equal(joiner.member.isPeer('r1'), true);
      assert.equal(joiner.member.isPeer('mallory'), false);
      await mallory.stop();
      mallory = createNode({ id: 'mallory', port: null, seeds: [joiner.address], logger: 'silent' });
      await mallory.start();
      await waitUntil(
        () => mallory.nodes().some((n) => n.id === 'r4' && n.connected),
        20_000,
        'the attacker connected to the joiner',
      );
      const heartbeat = encodeWireMessage(
        newMessage({ type: 'MsgHeartbeat', from: 'mallory', to: 'r4', term: 2 ** 53 - 1 }),
      );
      mallory.send('$raft.step', [['kv', [heartbeat]]], { nodeId: 'r4' });
      await waitUntil(() => lines.some((l) => l.includes("from 'mallory'")), 20_000, 'the joiner dropped the attacker');
      assert.equal(joiner.member.status().term, 0, 'the joiner took no term from a stranger');
    } finally {
      await joiner.stop();
    }
  });
});
