import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNode, type ParleyNode } from '../node/node.js';
import { waitUntil } from '../node/testing/test-cluster.js';
import { newMessage } from '../raft/core/messages.js';
import { encodeWireMessage } from '../raft/core/wire-message.js';
import type { Logger } from '../transport/logger.js';
import { MemoryNetwork, MemoryTransport } from '../transport/memory-transport.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../transport/transport.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';
import { ParleyError } from '../wire/parley-error.js';
import { KvClient } from './client/kv-client.js';
import { encodePlacement, type Placement, placeGroups, placementKey } from './server/group-placement.js';
import { type KvServer, startServer } from './server/start-server.js';
import { AppendLogMachine, payload } from './testing/append-log-machine.js';

const limits = { maxFrameSize: DEFAULT_MAX_FRAME_SIZE, maxOutboundBytes: DEFAULT_MAX_OUTBOUND_BYTES };
const IDS = ['m1', 'm2', 'm3'];
const GROUPS = Array.from({ length: 30 }, (_, i) => `orders-${String(i).padStart(2, '0')}`);

function recordingLogger(lines: string[]): Logger {
  return { debug() {}, info() {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
}

/**
 * Three `parley server` members on an in-memory network host 30 Raft groups besides the KV
 * group, from placement records in the KV store, each group running its own small state machine.
 */
describe('group host: 30 groups on 3 members from placement records', () => {
  let dir: string;
  const net = new MemoryNetwork();
  const servers = new Map<string, KvServer>();
  const warnings = new Map<string, string[]>();
  /** Per member, the state machine of each group it hosts (replaced when it restarts). */
  const machines = new Map<string, Map<string, AppendLogMachine>>();
  let client: ParleyNode;
  let kv: KvClient;
  const placements = placeGroups(IDS, GROUPS, 3);

  const start = async (id: string) => {
    const peers: Record<string, string | null> = { m1: null, m2: null, m3: null };
    for (const [sid, s] of servers) peers[sid] = s.address;
    const lines = warnings.get(id) ?? [];
    warnings.set(id, lines);
    const mine = new Map<string, AppendLogMachine>();
    machines.set(id, mine);
    const s = await startServer({
      id,
      dataDir: join(dir, id),
      listen: '127.0.0.1:0',
      peers,
      logger: recordingLogger(lines),
      transport: new MemoryTransport(net, limits),
      raft: { tickMs: 20 },
      groups: {
        stateMachine: (groupId) => {
          const m = new AppendLogMachine();
          mine.set(groupId, m);
          return m;
        },
        checkEveryTicks: 2,
      },
    });
    servers.set(id, s);
    return s;
  };
  const host = (id: string) => servers.get(id)!.groups!;
  const leaderOf = (groupId: string) =>
    [...servers.values()].find((s) => s.groups!.group(groupId)?.member.isLeader === true);
  /** Proposes on the group's current leader; a proposal dropped (never applied: no leader, a transfer) is retried. */
  const propose = async (groupId: string, text: string): Promise<number> => {
    for (;;) {
      const lead = leaderOf(groupId);
      if (lead !== undefined) {
        try {
          return (await lead.groups!.group(groupId)!.member.propose(payload(text))) as number;
        } catch (err) {
          if (
            !ParleyError.is(err, 'UNAVAILABLE') ||
            (err.details as { reason?: string })?.reason !== 'proposal-dropped'
          ) {
            throw err;
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const put = (p: Placement) => kv.put(placementKey(p.groupId), encodePlacement(p));

  const connectClient = async () => {
    client = createNode({
      id: 'groups-client',
      seeds: [...servers.values()].map((s) => s.address),
      logger: 'silent',
      gossipInterval: 100,
      transport: new MemoryTransport(net, limits, false),
    });
    await client.start();
    kv = new KvClient(client, { timeoutMs: 30_000 });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-groups-'));
    for (const id of IDS) await start(id);
    await connectClient();
    for (const p of placements) await put(p);
  });

  after(async () => {
    await kv.close();
    await client.stop();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('every member hosts every group; each elects a leader, with one tick timer per member', async () => {
    await waitUntil(() => IDS.every((id) => host(id).groupIds().length === GROUPS.length), 30_000, 'all hosted');
    await waitUntil(() => GROUPS.every((g) => leaderOf(g) !== undefined), 30_000, 'every group has a leader');
    for (const id of IDS) {
      assert.deepEqual(host(id).groupIds(), GROUPS);
      assert.equal(host(id).timers, 1, `${id} ticks all its groups from one timer`);
      assert.ok(existsSync(join(dir, id, 'groups')), 'group data lives under <dataDir>/groups');
      assert.equal(readdirSync(join(dir, id, 'groups')).length, GROUPS.length);
    }
  });

  it('leaders end on their preferred members, spread evenly', async () => {
    const preferred = new Map(placements.map((p) => [p.groupId, p.preferredLeader]));
    await waitUntil(
      () => GROUPS.every((g) => leaderOf(g)?.member.id === preferred.get(g)),
      60_000,
      'every group led by its preferred leader',
    );
    const counts = IDS.map((id) => GROUPS.filter((g) => leaderOf(g)?.member.id === id).length);
    assert.deepEqual(counts, [10, 10, 10]);
  });

  it('proposals commit on each group independently', async () => {
    await Promise.all(
      GROUPS.map(async (g) => {
        assert.equal(await propose(g, `${g}:a`), 1);
        assert.equal(await propose(g, `${g}:b`), 2);
      }),
    );
    await waitUntil(
      () => IDS.every((id) => GROUPS.every((g) => machines.get(id)!.get(g)!.items.length === 2)),
      30_000,
      'every member applied both commands of every group',
    );
    for (const id of IDS) {
      for (const g of GROUPS) assert.deepEqual(machines.get(id)!.get(g)!.items, [`${g}:a`, `${g}:b`]);
    }
  });

  it('a restarted member recovers all its groups from disk', async () => {
    await servers.get('m2')!.stop();
    servers.delete('m2');
    // The others keep committing while it is down.
    const g0 = GROUPS[0]!;
    await waitUntil(() => leaderOf(g0) !== undefined, 30_000, `${g0} has a leader without m2`);
    await leaderOf(g0)!
      .groups!.group(g0)!
      .member.propose(payload(`${g0}:c`));
    await start('m2');
    await waitUntil(() => host('m2').groupIds().length === GROUPS.length, 30_000, 'm2 hosts its groups again');
    for (const g of GROUPS.slice(1)) {
      const m = machines.get('m2')!.get(g)!;
      // Recovered from its own WAL (the log replays; no snapshot was taken at this size).
      await waitUntil(() => m.items.length === 2, 30_000, `m2 re-applied ${g}`);
      assert.deepEqual(m.items, [`${g}:a`, `${g}:b`]);
    }
    await waitUntil(
      () => machines.get('m2')!.get(g0)!.items.length === 3,
      30_000,
      'm2 caught up on the write it missed',
    );
    assert.deepEqual(machines.get('m2')!.get(g0)!.items, [`${g0}:a`, `${g0}:b`, `${g0}:c`]);
    // Every member restarted: their disks are all there is to recover from.
    await kv.close();
    await client.stop();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    servers.clear();
    for (const id of IDS) await start(id);
    await connectClient();
    await waitUntil(() => IDS.every((id) => host(id).groupIds().length === GROUPS.length), 30_000, 'all hosted again');
    const expected = (g: string) => (g === g0 ? [`${g}:a`, `${g}:b`, `${g}:c`] : [`${g}:a`, `${g}:b`]);
    await waitUntil(
      () => IDS.every((id) => GROUPS.every((g) => machines.get(id)!.get(g)!.items.length === expected(g).length)),
      30_000,
      'every member re-applied every group from its WAL',
    );
    for (const id of IDS) for (const g of GROUPS) assert.deepEqual(machines.get(id)!.get(g)!.items, expected(g));
    assert.equal(await propose(g0, `${g0}:d`), 4);
  });

  it('deleting a placement stops the group everywhere and removes its data', async () => {
    const g = GROUPS[GROUPS.length - 1]!;
    const dirs = IDS.map((id) => join(dir, id, 'groups'));
    const before = dirs.map((d) => readdirSync(d).filter((n) => n.startsWith(`${g}.`)));
    assert.ok(before.every((names) => names.length === 1));
    await kv.delete(placementKey(g));
    await waitUntil(() => IDS.every((id) => host(id).group(g) === undefined), 30_000, 'no member hosts it');
    for (const [i, d] of dirs.entries()) assert.equal(existsSync(join(d, before[i]![0]!)), false);
    assert.equal(host('m1').groupIds().length, GROUPS.length - 1);
  });

  it("drops a stranger's or a non-voter's raft messages for a group, and messages for an unknown group", async () => {
    // A group on m1 and m2 only: m3 is a member of the cluster but not of this group.
    const pair: Placement = { groupId: 'pair', voters: ['m1', 'm2'], preferredLeader: 'm1' };
    await put(pair);
    await waitUntil(() => leaderOf('pair') !== undefined, 30_000, 'the pair group elects');
    assert.equal(host('m3').group('pair'), undefined, 'm3 does not host it');
    const wireId = host('m1').group('pair')!.wireId;
    const termBefore = host('m1').group('pair')!.member.status().term;
    const forged = (from: string, type: 'MsgVote' | 'MsgHeartbeat') =>
      encodeWireMessage(newMessage({ type, from, to: 'm1', term: 2 ** 53 - 1, logTerm: 2 ** 40, index: 2 ** 40 }));
    servers.get('m3')!.node.send('$raft.step', [[wireId, [forged('m3', 'MsgVote'), forged('m3', 'MsgHeartbeat')]]], {
      nodeId: 'm1',
    });
    const mallory = createNode({
      id: 'mallory',
      seeds: [servers.get('m1')!.address],
      logger: 'silent',
      gossipInterval: 100,
      transport: new MemoryTransport(net, limits, false),
    });
    await mallory.start();
    try {
      await waitUntil(
        () => mallory.nodes().some((n) => n.id === 'm1' && n.connected),
        20_000,
        'mallory connected to m1',
      );
      mallory.send('$raft.step', [[wireId, [forged('mallory', 'MsgVote')]]], { nodeId: 'm1' });
      mallory.send('$raft.step', [['no-such-group#1', [forged('mallory', 'MsgVote')]]], { nodeId: 'm1' });
      const lines = warnings.get('m1')!;
      await waitUntil(
        () =>
          lines.some((l) => l.includes("from 'm3' for group 'pair#")) &&
          lines.some((l) => l.includes("from 'mallory' for group 'pair#")) &&
          lines.some((l) => l.includes("from 'mallory' for group 'no-such-group#1': no such group")),
        20_000,
        'm1 dropped all three',
      );
    } finally {
      await mallory.stop();
    }
    assert.equal(host('m1').group('no-such-group'), undefined, 'an unknown group is never created');
    const term = host('m1').group('pair')!.member.status().term;
    assert.ok(term < 1000 && term >= termBefore, `the group's term stays small: ${term}`);
    assert.equal(await propose('pair', 'still works'), 1);
  });

  it('the KV store keeps working', async () => {
    await kv.put('plain', 'value');
    assert.equal(await kv.getString('plain'), 'value');
    const status = await kv.status();
    assert.deepEqual([...status.voters].sort(), IDS);
  });
});
