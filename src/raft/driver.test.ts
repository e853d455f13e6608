import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyError } from '../wire/parley-error.js';
import type { ConfChange } from './core/conf-change.js';
import { raftError } from './core/errors.js';
import type { Message } from './core/messages.js';
import type { ReadState, Ready, SoftState, Status } from './core/ready.js';
import { type DriverScheduler, type PersistentLog, RaftDriver, type RawNodeApi, type StateMachine } from './driver.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/**
 * Driver tests against a scripted single-voter RawNode (the real core was not wired yet when
 * these were written). The fake follows the Ready contract: entries handed out in one Ready
 * are committed once advanced, and show up as committedEntries in the next Ready.
 */
class FakeSingleNode implements RawNodeApi {
  drop = false;
  private term = 1;
  private last = 0;
  private unstable: Entry[] = [];
  private stableUnapplied: Entry[] = [];
  private reads: ReadState[] = [];
  private soft: SoftState | null = { lead: 'a', role: 'leader' };
  readonly steps: Message[] = [];
  tick(): void {}
  step(m: Message): void {
    this.steps.push(m);
  }
  propose(data: Uint8Array): void {
    if (this.drop) throw raftError('proposal-dropped', 'no leader');
    this.unstable.push({ term: this.term, index: ++this.last, type: 0, data });
  }
  proposeBatch(data: readonly Uint8Array[]): void {
    if (this.drop) throw raftError('proposal-dropped', 'no leader');
    for (const d of data) this.unstable.push({ term: this.term, index: ++this.last, type: 0, data: d });
  }
  readIndex(context: Uint8Array): void {
    this.reads.push({ index: this.last, requestContext: context });
  }
  loseLeadership(): void {
    this.term++;
    this.soft = { lead: 'b', role: 'follower' };
  }
  hasReady(): boolean {
    return this.unstable.length + this.stableUnapplied.length + this.reads.length > 0 || this.soft !== null;
  }
  private handed: Entry[] = [];
  ready(): Ready {
    this.handed = this.unstable;
    const rd: Ready = {
      softState: this.soft,
      hardState: { term: this.term, vote: 'a', commit: this.stableUnapplied.at(-1)?.index ?? 0 },
      readStates: this.reads,
      entries: this.unstable,
      snapshot: null,
      committedEntries: this.stableUnapplied,
      messages: [],
      mustSync: this.unstable.length > 0,
    };
    this.unstable = [];
    this.reads = [];
    this.soft = null;
    this.stableUnapplied = [];
    return rd;
  }
  advance(): void {
    this.stableUnapplied = this.handed;
    this.handed = [];
  }
  applyConfChange(_cc: ConfChange): ConfState {
    return { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
  }
  proposeConfChange(_cc: ConfChange): void {
    throw raftError('proposal-dropped', 'not scripted');
  }
  transferLeadership(_to: string): void {}
  reportSnapshot(_id: string, _ok: boolean): void {}
  status(): Status {
    throw new Error('not scripted');
  }
}

class RecordingLog implements PersistentLog {
  readonly saves: { hs: HardState | null; entries: number }[] = [];
  save(hs: HardState | null, entries: readonly Entry[], _s: Snapshot | null): void {
    this.saves.push({ hs, entries: entries.length });
  }
}

const noTicks: DriverScheduler = { every: () => () => {}, defer: (fn) => setImmediate(fn) };

function counter(): StateMachine<number> & { applied: number[] } {
  const applied: number[] = [];
  return {
    applied,
    apply: (payload) => {
      applied.push(payload[0]!);
      return payload[0]! * 10;
    },
    snapshot: () => new Uint8Array(0),
    restore: () => {},
  };
}

function setup() {
  const node = new FakeSingleNode();
  const log = new RecordingLog();
  const sm = counter();
  const driver = new RaftDriver<number>({ id: 'a', node, log, send: () => {}, stateMachine: sm, scheduler: noTicks });
  driver.start();
  return { node, log, sm, driver };
}

test('proposals made between two Readys are persisted by one save and each resolves with its own result', async () => {
  const { log, sm, driver } = setup();
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => driver.propose(new Uint8Array([i]))));
  assert.deepEqual(
    results,
    Array.from({ length: 100 }, (_, i) => i * 10),
  );
  assert.deepEqual(
    sm.applied,
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.deepEqual(
    log.saves.filter((s) => s.entries > 0).map((s) => s.entries),
    [100],
  );
  assert.equal(driver.applied, 100);
  driver.stop();
});

test('leadership loss rejects in-flight proposals with UNAVAILABLE (may or may not have applied)', async () => {
  const { node, driver } = setup();
  await driver.propose(new Uint8Array([1]));
  const p = driver.propose(new Uint8Array([2]));
  node.loseLeadership();
  await assert.rejects(p, (e) => ParleyError.is(e, 'UNAVAILABLE') && e.message.includes('leadership lost'));
  driver.stop();
});

test('a dropped proposal is rejected with UNAVAILABLE and reason proposal-dropped', async () => {
  const { node, driver } = setup();
  node.drop = true;
  await assert.rejects(
    driver.propose(new Uint8Array([1])),
    (e) => ParleyError.is(e, 'UNAVAILABLE') && (e.details as { reason: string }).reason === 'proposal-dropped',
  );
  driver.stop();
});

test('readIndex resolves only once the read index is applied', async () => {
  const { sm, driver } = setup();
  const w = driver.propose(new Uint8Array([7]));
  await driver.readIndex();
  assert.deepEqual(sm.applied, [7], 'the write before the read is applied when the read resolves');
  await w;
  driver.stop();
});

test('stop rejects pending proposals with CANCELLED and refuses new ones', async () => {
  const { driver } = setup();
  const p = driver.propose(new Uint8Array([1]));
  driver.stop();
  await assert.rejects(p, (e) => ParleyError.is(e, 'CANCELLED'));
  await assert.rejects(driver.propose(new Uint8Array([2])), (e) => ParleyError.is(e, 'CANCELLED'));
});

test('incoming messages reach the node', () => {
  const { node, driver } = setup();
  const m = { type: 'MsgHeartbeat', from: 'b', to: 'a' } as unknown as Message;
  driver.step(m);
  assert.equal(node.steps[0], m);
  driver.stop();
});

test('with WalStorage as the log, what the driver acknowledged survives a restart', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { WalStorage } = await import('./wal/wal-storage.js');
  const dir = mkdtempSync(join(tmpdir(), 'parley-driver-'));
  try {
    const wal = WalStorage.open(dir);
    const driver = new RaftDriver<number>({
      id: 'a',
      node: new FakeSingleNode(),
      log: wal,
      send: () => {},
      stateMachine: counter(),
      scheduler: noTicks,
    });
    driver.start();
    await Promise.all(Array.from({ length: 50 }, (_, i) => driver.propose(new Uint8Array([i]))));
    driver.stop();
    wal.close();
    const again = WalStorage.open(dir);
    assert.equal(again.lastIndex(), 50);
    assert.equal(again.initialState().hardState.commit, 50);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
