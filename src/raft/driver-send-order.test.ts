import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { newMessage } from './core/messages.js';
import type { Ready } from './core/ready.js';
import { type DriverScheduler, RaftDriver } from './driver.js';
import { ScriptedNode } from './testing/scripted-node.js';
import type { Entry, HardState } from './types.js';

const entry = (index: number, term: number): Entry => ({ index, term, type: 0, data: new Uint8Array([1]) });

/** A Ready of member 'a' as leader (a MsgApp to b) or follower (a MsgAppResp to a); `lead` null: no change. */
function ready(lead: string | null, hs: HardState | null, index: number, leader = lead === 'a'): Ready {
  return {
    softState: lead === null ? null : { lead, role: lead === 'a' ? 'leader' : 'follower' },
    hardState: hs,
    readStates: [],
    entries: [entry(index, hs?.term ?? 2)],
    snapshot: null,
    committedEntries: [],
    messages: [newMessage({ type: leader ? 'MsgApp' : 'MsgAppResp', to: 'b' }, 'a', 2)],
    mustSync: true,
  };
}

const noTicks: DriverScheduler = { every: () => () => {}, defer: (fn) => setImmediate(fn) };

function run(readys: Ready[]) {
  const node = new ScriptedNode();
  const order: string[] = [];
  const driver = new RaftDriver<undefined>({
    id: 'a',
    node,
    log: { save: (_hs, entries) => order.push(`save ${entries[0]?.index}`) },
    send: (ms) => order.push(`send ${ms[0]!.type}`),
    stateMachine: { apply: () => undefined, snapshot: () => new Uint8Array(0), restore: () => {} },
    scheduler: noTicks,
  });
  node.readys.push(...readys);
  driver.start();
  return { order, driver, node };
}

test('a leader sends before persisting once its term and vote are durable; never before', async () => {
  const hs = { term: 2, vote: 'a', commit: 0 };
  const { order, driver, node } = run([
    ready('a', hs, 1), // term 2 and vote not yet saved by this driver: persist first
    ready(null, { ...hs, commit: 1 }, 2, true), // only the commit moved: send, then persist
    ready(null, null, 3, true),
    ready(null, { term: 3, vote: 'a', commit: 1 }, 4, true), // a new term: persist first
  ]);
  await waitUntil(() => node.readys.length === 0 && order.length === 8);
  assert.deepEqual(order, [
    'save 1',
    'send MsgApp',
    'send MsgApp',
    'save 2',
    'send MsgApp',
    'save 3',
    'save 4',
    'send MsgApp',
  ]);
  driver.stop();
});

test('a follower always persists before it answers (its answer acknowledges durable entries)', async () => {
  const hs = { term: 2, vote: 'b', commit: 0 };
  const { order, driver, node } = run([ready('b', hs, 1), ready(null, { ...hs, commit: 1 }, 2)]);
  await waitUntil(() => node.readys.length === 0 && order.length === 4);
  assert.deepEqual(order, ['save 1', 'send MsgAppResp', 'save 2', 'send MsgAppResp']);
  driver.stop();
});
