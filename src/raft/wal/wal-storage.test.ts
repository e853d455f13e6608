import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ParleyError } from '../../wire/parley-error.js';
import { scanSegment } from './segment-scan.js';
import { CONF, entries, observe, withTempDir } from './testing/wal-test-helpers.js';
import { WalStorage } from './wal-storage.js';

test('a fresh WAL is empty and records the initial configuration', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    assert.deepEqual(s.initialState(), { hardState: { term: 0, vote: null, commit: 0 }, confState: CONF });
    assert.equal(s.firstIndex(), 1);
    assert.equal(s.lastIndex(), 0);
    assert.equal(s.term(0), 0);
    s.close();
    const again = WalStorage.open(dir);
    assert.deepEqual(again.initialState().confState, CONF);
    again.close();
  });
});

test('restart from disk gives identical initialState() and entries', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 6, 1));
    s.save({ term: 1, vote: 'a', commit: 4 }, entries(6, 9, 1));
    s.save({ term: 2, vote: 'b', commit: 5 }, []);
    const before = observe(s);
    s.close();
    const r = WalStorage.open(dir);
    assert.deepEqual(observe(r), before);
    assert.equal(before.last, 8);
    assert.deepEqual(r.entries(3, 6, 0).length, 1, 'maxBytes 0 still returns one entry');
    assert.deepEqual(r.entries(3, 6, 16).length, 2);
    r.close();
  });
});

test('an append at index i replaces every entry >= i, on disk too', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    s.save({ term: 1, vote: 'a', commit: 2 }, entries(1, 11, 1));
    s.save({ term: 2, vote: 'b', commit: 2 }, entries(5, 7, 2));
    assert.equal(s.lastIndex(), 6);
    assert.equal(s.term(4), 1);
    assert.equal(s.term(5), 2);
    const before = observe(s);
    s.close();
    const r = WalStorage.open(dir);
    assert.deepEqual(observe(r), before);
    assert.equal(r.lastIndex(), 6);
    r.close();
  });
});

test('reads outside the log fail with OUT_OF_RANGE telling compacted from unavailable', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    s.save({ term: 1, vote: 'a', commit: 5 }, entries(1, 6, 1));
    s.createSnapshot(3, CONF, new Uint8Array([1]));
    s.compact(3);
    const reason = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        assert.ok(ParleyError.is(err, 'OUT_OF_RANGE'));
        return (err.details as { reason: string }).reason;
      }
      return 'no error';
    };
    assert.equal(
      reason(() => s.term(2)),
      'compacted',
    );
    assert.equal(
      reason(() => s.entries(2, 4, 100)),
      'compacted',
    );
    assert.equal(
      reason(() => s.term(6)),
      'unavailable',
    );
    assert.equal(
      reason(() => s.entries(4, 7, 100)),
      'unavailable',
    );
    assert.equal(s.term(3), 1);
    s.close();
  });
});

test('segments roll over; compaction deletes segments wholly covered by the snapshot; restart agrees', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF, segmentBytes: 2048 });
    for (let i = 0; i < 20; i++) s.save({ term: 1, vote: 'a', commit: i * 5 }, entries(i * 5 + 1, i * 5 + 6, 1, 40));
    const many = s.segmentFiles();
    assert.ok(many.length >= 5, `expected several segments, got ${many.length}`);
    assert.throws(
      () => s.compact(50),
      (e) => ParleyError.is(e, 'FAILED_PRECONDITION'),
    );
    const snap = s.createSnapshot(60, CONF, new Uint8Array([6, 0]));
    assert.equal(snap.metadata.term, 1);
    s.compact(55);
    const after = s.segmentFiles();
    assert.ok(after.length < many.length, 'some segments were deleted');
    for (const f of many.filter((f) => !after.includes(f))) assert.equal(existsSync(join(dir, f)), false);
    assert.equal(s.firstIndex(), 56);
    assert.equal(s.term(55), 1);
    const before = observe(s);
    s.close();
    const r = WalStorage.open(dir, { segmentBytes: 2048 });
    assert.deepEqual(observe(r), before);
    assert.deepEqual(r.segmentFiles(), after);
    r.save({ term: 1, vote: 'a', commit: 100 }, entries(101, 103, 1));
    assert.equal(r.lastIndex(), 102);
    r.close();
  });
});

test('a received snapshot replaces the log and round-trips through its file', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    s.save({ term: 1, vote: 'a', commit: 3 }, entries(1, 6, 1));
    const conf = { ...CONF, learners: ['d'] };
    const data = new Uint8Array([9, 8, 7, 6]);
    s.save({ term: 3, vote: null, commit: 40 }, entries(41, 43, 3), {
      metadata: { index: 40, term: 2, confState: conf },
      data,
    });
    assert.equal(s.firstIndex(), 41);
    assert.equal(s.lastIndex(), 42);
    assert.equal(s.term(40), 2);
    assert.deepEqual(s.initialState().confState, conf);
    const before = observe(s);
    s.close();
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('snap-')),
      ['snap-0000000000000002-0000000000000028.snap'],
    );
    const r = WalStorage.open(dir);
    assert.deepEqual(observe(r), before);
    assert.deepEqual([...r.snapshot().data], [9, 8, 7, 6]);
    assert.throws(
      () => r.applySnapshot({ metadata: { index: 30, term: 2, confState: conf }, data }),
      (e) => ParleyError.is(e, 'FAILED_PRECONDITION'),
    );
    r.close();
  });
});

test('a missing snapshot file is DATA_LOSS', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    s.save({ term: 1, vote: 'a', commit: 5 }, entries(1, 6, 1));
    s.createSnapshot(4, CONF, new Uint8Array([1, 2]));
    s.close();
    const snap = readdirSync(dir).find((f) => f.startsWith('snap-'))!;
    unlinkSync(join(dir, snap));
    assert.throws(
      () => WalStorage.open(dir),
      (e) => ParleyError.is(e, 'DATA_LOSS') && e.message.includes(snap),
    );
  });
});

test('a missing middle segment is DATA_LOSS', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF, segmentBytes: 1024 });
    for (let i = 0; i < 10; i++) s.save({ term: 1, vote: 'a', commit: 0 }, entries(i * 5 + 1, i * 5 + 6, 1, 40));
    const files = s.segmentFiles();
    s.close();
    assert.ok(files.length >= 3);
    unlinkSync(join(dir, files[1]!));
    assert.throws(
      () => WalStorage.open(dir),
      (e) => ParleyError.is(e, 'DATA_LOSS'),
    );
  });
});

test('only a commit-index change is written without losing it on a clean restart', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 4, 1));
    s.save({ term: 1, vote: 'a', commit: 3 }, []);
    s.close();
    const r = WalStorage.open(dir);
    assert.equal(r.initialState().hardState.commit, 3);
    r.close();
  });
});

test('a closed WAL refuses writes', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF });
    s.close();
    assert.throws(
      () => s.save({ term: 1, vote: null, commit: 0 }, entries(1, 2, 1)),
      (e) => ParleyError.is(e, 'FAILED_PRECONDITION'),
    );
  });
});

test('a non-last segment cut short at a record boundary is DATA_LOSS', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF, segmentBytes: 1024 });
    for (let i = 0; i < 10; i++) s.save({ term: 1, vote: 'a', commit: 0 }, entries(i * 5 + 1, i * 5 + 6, 1, 40));
    const files = s.segmentFiles();
    s.close();
    const first = join(dir, files[0]!);
    const records = scanSegment(readFileSync(first), files[0]!, false).records;
    truncateSync(first, records[records.length - 1]!.offset);
    assert.throws(
      () => WalStorage.open(dir),
      (e) => ParleyError.is(e, 'DATA_LOSS') && e.message.includes(files[0]!) && e.message.includes('byte offset'),
    );
  });
});
