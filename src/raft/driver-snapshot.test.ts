import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { newMessage } from './core/messages.js';
import type { Ready } from './core/ready.js';
import { type DriverScheduler, RaftDriver, type SnapshotInSlices } from './driver.js';
import { encodeProposal } from './driver-proposals.js';
import { ScriptedNode } from './testing/scripted-node.js';
import type { ConfState, Entry } from './types.js';

const CONF: ConfState = { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
/** A proposal of member 'x' (wrapped in the driver's envelope, so it reaches the state machine). */
const entry = (index: number): Entry => ({
  index,
  term: 1,
  type: 0,
  data: encodeProposal('x', index, new Uint8Array(0)),
});
const committing = (indexes: number[]): Ready => ({
  softState: null,
  hardState: { term: 1, vote: 'a', commit: indexes.at(-1)! },
  readStates: [],
  entries: [],
  snapshot: null,
  committedEntries: indexes.map(entry),
  messages: [],
  mustSync: false,
});
const noTicks: DriverScheduler = { every: () => () => {}, defer: (fn) => setImmediate(fn) };

test('a sliced snapshot is of the state when it began, while later Readys are applied between its slices', async () => {
  const node = new ScriptedNode();
  const events: string[] = [];
  let applied = 0;
  const driver = new RaftDriver<undefined>({
    id: 'a',
    node,
    log: {
      save: () => {},
      createSnapshot: (index, _conf, data) => {
        events.push(`snapshot ${index} of state ${data[0]}`);
        return { data, metadata: { index, term: 1, confState: CONF } };
      },
      compact: (index) => events.push(`compact ${index}`),
    },
    send: () => {},
    stateMachine: {
      apply: (_payload, e) => {
        applied = e.index;
        events.push(`apply ${e.index}`);
        return undefined;
      },
      snapshot: () => {
        throw new Error('a state machine with beginSnapshot is snapshotted in slices');
      },
      beginSnapshot: (): SnapshotInSlices => {
        const state = applied;
        let slices = 0;
        return {
          step: () => {
            events.push(`slice ${++slices}`);
            if (slices === 1) {
              node.readys.push(committing([3]));
              driver.step(newMessage({ type: 'MsgHeartbeat', to: 'a' }, 'b', 1)); // wakes the driver
            }
            return slices === 3;
          },
          bytes: () => new Uint8Array([state]),
        };
      },
      restore: () => {},
    },
    scheduler: noTicks,
    snapshotEvery: 2,
    snapshotKeep: 1,
  });
  node.readys.push(committing([1, 2]));
  driver.start();
  await waitUntil(() => events.includes('compact 1'));
  assert.deepEqual(events, [
    'apply 1',
    'apply 2',
    'slice 1',
    'apply 3',
    'slice 2',
    'slice 3',
    'snapshot 2 of state 2',
    'compact 1',
  ]);
  driver.stop();
});
