import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../../base/testing/wait-until.js';
import { KvStateMachine } from '../../kv/kv-state-machine.js';
import type { Logger } from '../../transport/logger.js';
import { AppendLogMachine, payload } from '../testing/append-log-machine.js';
import { GroupHost } from './group-host.js';
import { encodePlacement, placeGroups, placementKey } from './group-placement.js';
import type { RaftStepPart } from './raft-service.js';

const IDS = ['h1', 'h2', 'h3'];
const GROUPS = Array.from({ length: 30 }, (_, i) => `p${i}`);

/**
 * Three GroupHosts in one process, without nodes: each reads placements from its own copy of the
 * KV state (the same puts applied to each, as raft would), and their `$raft.step` calls are
 * delivered directly. Shows what a host sends: one call per destination per turn, many groups in it.
 */
describe('GroupHost in one process', () => {
  let dir: string;
  const hosts = new Map<string, GroupHost<number>>();
  const kvs = new Map<string, KvStateMachine>();
  const machines = new Map<string, Map<string, AppendLogMachine>>();
  const warnings: string[] = [];
  let calls = 0;
  let parts = 0;
  const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };

  const putEverywhere = (key: string, value: string) => {
    for (const sm of kvs.values()) assert.equal(sm.apply({ type: 'put', key, value }).ok, true);
  };
  const leaderOf = (g: string) => [...hosts.values()].find((h) => h.group(g)?.member.isLeader === true);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-host-'));
    // A directory no record names (its group was deleted while this member was down).
    mkdirSync(join(dir, 'h1', 'groups', 'gone.7'), { recursive: true });
    for (const id of IDS) {
      const sm = new KvStateMachine();
      kvs.set(id, sm);
      const mine = new Map<string, AppendLogMachine>();
      machines.set(id, mine);
      const send = (to: string, call: RaftStepPart[]) => {
        calls++;
        parts += call.length;
        setImmediate(() => {
          for (const part of call) {
            const target = hosts.get(to)?.get(part.groupId);
            if (target === undefined || !target.isPeer(id)) continue;
            for (const m of part.messages) target.step(m);
          }
        });
      };
      hosts.set(
        id,
        new GroupHost<number>({
          id,
          dataDir: join(dir, id),
          placements: { sm, readIndex: async () => {} },
          stateMachine: (g) => {
            const m = new AppendLogMachine();
            mine.set(g, m);
            return m;
          },
          send,
          isHealthy: () => true,
          logger,
          raft: { tickMs: 10 },
          checkEveryTicks: 2,
        }),
      );
    }
    for (const p of placeGroups(IDS, GROUPS, 3)) putEverywhere(placementKey(p.groupId), encodePlacement(p));
    putEverywhere(placementKey('broken'), '{"groupId":"broken","voters":[]}');
    for (const h of hosts.values()) h.start();
  });

  after(() => {
    for (const h of hosts.values()) h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('elects every group and commits on each, sending several groups per call', async () => {
    await waitUntil(() => GROUPS.every((g) => leaderOf(g) !== undefined), 30_000, 'every group elected');
    calls = 0;
    parts = 0;
    await Promise.all(
      GROUPS.map(async (g) => {
        for (;;) {
          try {
            return await leaderOf(g)!.group(g)!.member.propose(payload(g));
          } catch {
            await new Promise((r) => setTimeout(r, 10)); // a leadership transfer in progress: retry
          }
        }
      }),
    );
    await waitUntil(
      () => IDS.every((id) => GROUPS.every((g) => machines.get(id)!.get(g)!.items.includes(g))),
      30_000,
      'applied everywhere',
    );
    assert.ok(
      parts > calls,
      `groups per $raft.step call: ${(parts / calls).toFixed(1)} (${parts} parts in ${calls} calls)`,
    );
    for (const h of hosts.values()) assert.equal(h.timers, 1);
  });

  it('ignores an invalid record with a warning, and removed the orphaned directory at the first read', () => {
    assert.ok(warnings.some((w) => w.includes(`ignoring the record ${placementKey('broken')}: placement: voters`)));
    for (const h of hosts.values()) assert.equal(h.group('broken'), undefined);
    assert.equal(existsSync(join(dir, 'h1', 'groups', 'gone.7')), false);
    assert.equal(existsSync(join(dir, 'h1', 'groups')), true);
  });

  it('bootstraps a group whose record was modified before any member read it, with the voters it was created with', async () => {
    putEverywhere(placementKey('late'), encodePlacement({ groupId: 'late', voters: IDS, preferredLeader: 'h1' }));
    putEverywhere(placementKey('late'), encodePlacement({ groupId: 'late', voters: IDS, preferredLeader: 'h2' }));
    await waitUntil(() => leaderOf('late')?.group('late')?.member.id === 'h2', 30_000, 'late elects and h2 leads');
  });

  it('keeps a group’s voters when its record changes them, and follows a new preferred leader', async () => {
    const g = GROUPS[0]!;
    putEverywhere(placementKey(g), encodePlacement({ groupId: g, voters: ['h1', 'h2', 'h3'], preferredLeader: 'h3' }));
    await waitUntil(() => leaderOf(g)?.group(g)?.member.id === 'h3', 30_000, 'h3 leads');
    putEverywhere(placementKey(g), encodePlacement({ groupId: g, voters: ['h1', 'h2'], preferredLeader: 'h1' }));
    // h3 is no longer named: it stops the group and deletes its data; h1 and h2 keep all three voters.
    await waitUntil(() => hosts.get('h3')!.group(g) === undefined, 30_000, 'h3 stops hosting it');
    await waitUntil(
      () => warnings.filter((w) => w.includes(`the placement of group '${g}' changed its voters`)).length >= 2,
      30_000,
      'h1 and h2 said the voters stay',
    );
    assert.deepEqual(hosts.get('h1')!.group(g)!.placement.voters, ['h1', 'h2', 'h3']);
    assert.equal(hosts.get('h1')!.group(g)!.placement.preferredLeader, 'h1');
  });
});

describe('GroupHost with encryption at rest', () => {
  it("keeps a group's log sealed on disk and recovers it with the key", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-host-enc-'));
    const encryption = { keyring: { active: 1, keys: [{ id: 1, key: new Uint8Array(randomBytes(32)) }] } };
    const sm = new KvStateMachine();
    sm.apply({
      type: 'put',
      key: placementKey('solo'),
      value: encodePlacement({ groupId: 'solo', voters: ['h1'], preferredLeader: 'h1' }),
    });
    const machines: AppendLogMachine[] = [];
    const open = () =>
      new GroupHost<number>({
        id: 'h1',
        dataDir: dir,
        encryption,
        placements: { sm, readIndex: async () => {} },
        stateMachine: () => {
          const m = new AppendLogMachine();
          machines.push(m);
          return m;
        },
        send: () => {},
        isHealthy: () => true,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
        raft: { tickMs: 10 },
      });
    try {
      let host = open();
      host.start();
      await waitUntil(() => host.group('solo')?.member.isLeader === true, 30_000, 'the one-member group elects');
      assert.equal(await host.group('solo')!.member.propose(payload('PLANTED-GROUP-SECRET')), 1);
      host.stop();
      const bytes = Buffer.concat(
        readdirSync(join(dir, 'groups'), { recursive: true, withFileTypes: true })
          .filter((d) => d.isFile())
          .map((d) => readFileSync(join(d.parentPath, d.name))),
      );
      assert.ok(bytes.length > 0);
      assert.equal(bytes.includes('PLANTED-GROUP-SECRET'), false, 'the payload is not on disk in the clear');
      const opened = machines.length;
      host = open();
      host.start();
      await waitUntil(
        () => machines.length > opened && machines.at(-1)!.items.length === 1,
        30_000,
        'the group re-applied its log',
      );
      assert.deepEqual(machines.at(-1)!.items, ['PLANTED-GROUP-SECRET']);
      host.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
