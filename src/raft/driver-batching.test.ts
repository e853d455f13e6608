import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { ParleyError } from '../wire/parley-error.js';
import { bootstrapCluster } from './bootstrap.js';
import type { Message } from './core/messages.js';
import { RawNode } from './core/raw-node.js';
import { RaftDriver } from './driver.js';
import { MemoryStorage } from './memory-storage.js';
import { seededRandom } from './testing/mini-cluster.js';
import type { NodeId } from './types.js';

/**
 * RaftDriverOptions.batchProposals against the real core: three drivers in one process, messages
 * delivered in memory on the next microtask, real timers (5 ms ticks). Conditions are polled.
 */
interface Member {
  readonly node: RawNode;
  readonly driver: RaftDriver<number>;
}

function cluster(ids: readonly NodeId[], sent: Message[]): Map<NodeId, Member> {
  const boot = bootstrapCluster(ids);
  const members = new Map<NodeId, Member>();
  ids.forEach((id, i) => {
    const storage = new MemoryStorage();
    storage.save(boot.hardState, boot.entries, null);
    const node = new RawNode({ id, storage, electionTick: 20, heartbeatTick: 2, random: seededRandom(i + 1) });
    const driver = new RaftDriver<number>({
      id,
      node,
      log: storage,
      send: (messages) => {
        for (const m of messages) {
          sent.push(m);
          queueMicrotask(() => members.get(m.to)?.driver.step(m));
        }
      },
      stateMachine: { apply: (_payload, entry) => entry.index, snapshot: () => new Uint8Array(0), restore: () => {} },
      tickMs: 5,
      batchProposals: true,
    });
    members.set(id, { node, driver });
  });
  return members;
}

function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  return waitUntil(condition, timeoutMs, what);
}

async function withLeader(sent: Message[]): Promise<{ members: Map<NodeId, Member>; stop: () => void }> {
  const members = cluster(['a', 'b', 'c'], sent);
  for (const m of members.values()) m.driver.start();
  members.get('a')!.node.campaign();
  await until('all members to follow a', () => [...members.values()].every((m) => m.driver.leader === 'a'));
  const stop = () => {
    for (const m of members.values()) m.driver.stop();
  };
  return { members, stop };
}

test('proposals made together reach each follower in one MsgApp, and each resolves with its own index', async () => {
  const sent: Message[] = [];
  const { members, stop } = await withLeader(sent);
  try {
    sent.length = 0;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => members.get('a')!.driver.propose(new Uint8Array([i]))),
    );
    assert.equal(new Set(results).size, 100);
    const appendsToB = sent.filter((m) => m.type === 'MsgApp' && m.to === 'b' && m.entries.length > 0);
    assert.equal(appendsToB.length, 1, `expected one MsgApp with entries, got ${appendsToB.length}`);
    assert.equal(appendsToB[0]!.entries.length, 100);
  } finally {
    stop();
  }
});

test('a follower forwards its proposals to the leader as one batch, and they resolve when applied there', async () => {
  const sent: Message[] = [];
  const { members, stop } = await withLeader(sent);
  try {
    sent.length = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => members.get('b')!.driver.propose(new Uint8Array([i]))),
    );
    assert.equal(new Set(results).size, 20);
    const forwarded = sent.filter((m) => m.type === 'MsgProp' && m.from === 'b');
    assert.equal(forwarded.length, 1);
    assert.equal(forwarded[0]!.entries.length, 20);
  } finally {
    stop();
  }
});

test('a refused batch rejects every proposal in it as dropped (nothing appended, safe to retry)', async () => {
  const members = cluster(['a', 'b', 'c'], []);
  const a = members.get('a')!.driver;
  a.start(); // no leader yet: a follower without a leader drops proposals
  try {
    const outcomes = await Promise.allSettled([a.propose(new Uint8Array([1])), a.propose(new Uint8Array([2]))]);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      const err = (o as PromiseRejectedResult).reason;
      assert.ok(ParleyError.is(err, 'UNAVAILABLE'), String(err));
      assert.deepEqual((err as ParleyError).details, { reason: 'proposal-dropped' });
    }
  } finally {
    a.stop();
  }
});
