import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToUtf8 } from './bytes.js';
import { KvStateMachine } from './kv-state-machine.js';
import { ok } from './testing/kv-test-helpers.js';
import type { KvEvent } from './types.js';

const show = (evs: readonly KvEvent[]) => evs.map((e) => `${e.type} ${bytesToUtf8(e.kv.key)}@${e.kv.modRevision}`);

function put(sm: KvStateMachine, key: string, value = 'v') {
  return ok(sm, { type: 'put', key, value }).revision;
}

describe('watch hub', () => {
  it('live events in revision order, filtered by range, with prevKv on request', () => {
    const sm = new KvStateMachine();
    put(sm, 'p/a', 'old');
    const id = sm.watches.watch({ range: { prefix: 'p/' }, prevKv: true });
    const noPrev = sm.watches.watch({ range: { prefix: 'p/' } });
    ok(sm, {
      type: 'txn',
      compare: [],
      success: [
        { type: 'put', key: 'p/a', value: 'new' },
        { type: 'put', key: 'q', value: 'x' },
        { type: 'delete', range: { key: 'p/a' } },
      ],
      failure: [],
    });
    put(sm, 'p/b');
    const p = sm.watches.poll(id);
    assert.deepEqual(show(p.events), ['PUT p/a@2', 'DELETE p/a@2', 'PUT p/b@3']);
    assert.equal(bytesToUtf8(p.events[0]!.prevKv!.value), 'old');
    assert.equal(bytesToUtf8(p.events[1]!.prevKv!.value), 'new');
    assert.equal(p.revision, 3);
    assert.ok(sm.watches.poll(noPrev).events.every((e) => e.prevKv === undefined));
    assert.deepEqual(sm.watches.poll(id).events, []);
  });

  it('noPut / noDelete filters', () => {
    const sm = new KvStateMachine();
    const dels = sm.watches.watch({ range: { key: 'a' }, noPut: true });
    put(sm, 'a');
    ok(sm, { type: 'delete', range: { key: 'a' } });
    assert.deepEqual(show(sm.watches.poll(dels).events), ['DELETE a@2']);
  });

  it('replay from an old revision, then live, with writes landing during the catch-up: no gap, no duplicate', () => {
    const sm = new KvStateMachine({ maxWatchBacklog: 2 });
    for (let i = 0; i < 5; i++) put(sm, `k${i}`); // revisions 1..5
    const id = sm.watches.watch({ range: { prefix: 'k' }, startRevision: 2 });
    const seen: KvEvent[] = [];
    let polls = 0;
    let i = 5;
    while (!sm.watches.isSynced(id) || polls < 8) {
      seen.push(...sm.watches.poll(id).events);
      polls++;
      if (i < 12) put(sm, `k${i++}`); // a write between every poll: replay and live overlap
      assert.ok(polls < 50);
    }
    seen.push(...sm.watches.poll(id).events);
    const revs = seen.map((e) => e.kv.modRevision);
    assert.deepEqual(
      revs,
      Array.from({ length: 11 }, (_, j) => j + 2),
    );
  });

  it('a slow watcher falls back to history and still sees every event once', () => {
    const sm = new KvStateMachine({ maxWatchBacklog: 3 });
    const id = sm.watches.watch({ range: { prefix: '' } });
    for (let i = 0; i < 10; i++) put(sm, `k${i}`);
    assert.equal(sm.watches.isSynced(id), false);
    const revs: number[] = [];
    for (let n = 0; n < 10 && revs.length < 10; n++)
      revs.push(...sm.watches.poll(id).events.map((e) => e.kv.modRevision));
    assert.deepEqual(revs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('compacted start revision is OUT_OF_RANGE with the compact revision; an overtaken watcher is cancelled', () => {
    const sm = new KvStateMachine({ maxWatchBacklog: 1 });
    for (let i = 0; i < 4; i++) put(sm, 'k');
    ok(sm, { type: 'compact', revision: 2 });
    assert.throws(
      () => sm.watches.watch({ range: { key: 'k' }, startRevision: 2 }),
      (e: { code: string; details: unknown }) =>
        e.code === 'OUT_OF_RANGE' && (e.details as { compactRevision: number }).compactRevision === 2,
    );
    const id = sm.watches.watch({ range: { key: 'k' }, startRevision: 3 });
    assert.deepEqual(show(sm.watches.poll(id).events), ['PUT k@3']);
    ok(sm, { type: 'compact', revision: 4 });
    const p = sm.watches.poll(id);
    assert.equal(p.canceled?.code, 'OUT_OF_RANGE');
    assert.deepEqual(p.canceled?.details, { compactRevision: 4 });
    assert.throws(() => sm.watches.poll(id), { code: 'NOT_FOUND' });
  });

  it('resume from the last revision seen + 1 gives exactly the rest', () => {
    const sm = new KvStateMachine();
    const id = sm.watches.watch({ range: { prefix: '' } });
    put(sm, 'a');
    put(sm, 'b');
    const first = sm.watches.poll(id);
    sm.watches.cancel(id);
    put(sm, 'c');
    const again = sm.watches.watch({ range: { prefix: '' }, startRevision: first.revision + 1 });
    put(sm, 'd');
    const rest = [...sm.watches.poll(again).events, ...sm.watches.poll(again).events];
    assert.deepEqual(show(rest), ['PUT c@3', 'PUT d@4']);
  });

  it('a lease expiry is one revision of DELETE events; listeners hear about it', () => {
    const sm = new KvStateMachine();
    const heard: number[] = [];
    sm.watches.setListener((id) => heard.push(id));
    const l = ok(sm, { type: 'lease-grant', ttlMs: 10, now: 0 });
    put(sm, 'x');
    ok(sm, { type: 'put', key: 'a', value: '1', lease: l.id });
    ok(sm, { type: 'put', key: 'b', value: '1', lease: l.id });
    const id = sm.watches.watch({ range: { prefix: '' } });
    ok(sm, { type: 'lease-expire', ids: sm.expiredLeases(10) });
    assert.deepEqual(heard, [id]);
    assert.deepEqual(show(sm.watches.poll(id).events), ['DELETE a@4', 'DELETE b@4']);
  });

  it('a start revision in the future waits for it; cancel removes the watcher', () => {
    const sm = new KvStateMachine();
    const id = sm.watches.watch({ range: { prefix: '' }, startRevision: 3 });
    put(sm, 'a');
    put(sm, 'b');
    assert.deepEqual(sm.watches.poll(id).events, []);
    put(sm, 'c');
    assert.deepEqual(show(sm.watches.poll(id).events), ['PUT c@3']);
    assert.equal(sm.watches.cancel(id), true);
    assert.equal(sm.watches.size, 0);
  });

  it('watchers survive a restore and catch up from the restored history', () => {
    const leader = new KvStateMachine();
    const lagging = new KvStateMachine();
    const id = lagging.watches.watch({ range: { prefix: '' } });
    put(leader, 'a');
    put(leader, 'b');
    lagging.restore(leader.snapshot());
    assert.deepEqual(show(lagging.watches.poll(id).events), ['PUT a@1', 'PUT b@2']);
    put(lagging, 'c');
    assert.deepEqual(show(lagging.watches.poll(id).events), ['PUT c@3']);
  });

  it('a replay chunk never splits a revision', () => {
    const sm = new KvStateMachine({ maxWatchBacklog: 1 });
    ok(sm, {
      type: 'txn',
      compare: [],
      success: ['a', 'b', 'c'].map((key) => ({ type: 'put', key, value: 'v' })),
      failure: [],
    });
    put(sm, 'd');
    const id = sm.watches.watch({ range: { prefix: '' }, startRevision: 1 });
    const first = sm.watches.poll(id);
    assert.deepEqual([show(first.events), first.revision], [['PUT a@1', 'PUT b@1', 'PUT c@1'], 1]);
    assert.deepEqual(show(sm.watches.poll(id).events), ['PUT d@2']);
  });
});
