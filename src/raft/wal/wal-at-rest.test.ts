import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ParleyError } from '../../wire/parley-error.js';
import type { Entry } from '../types.js';
import type { DataKeyring, WalEncryption } from './data-keyring.js';
import { HEADER_BYTES, RecordType, writeHeader } from './record.js';
import { scanSegment } from './segment-scan.js';
import { CONF, entries, observe, withTempDir } from './testing/wal-test-helpers.js';
import { WalStorage } from './wal-storage.js';

/**
 * Encryption at rest of the WAL: what reaches the disk, what a restart reads back, and how a
 * damaged, moved or foreign record, a missing or wrong key and a store written in the clear are
 * told apart.
 */

const key = (fill: number) => new Uint8Array(32).fill(fill);
const RING_1: DataKeyring = { keys: [{ id: 1, key: key(1) }], active: 1 };
const ENC_1: WalEncryption = { keyring: RING_1 };
const SECRET = 'PLANTED-SECRET-VALUE';

function secretEntries(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i < hi; i++) out.push({ index: i, term, type: 0, data: new TextEncoder().encode(`${SECRET}-${i}`) });
  return out;
}

/** Every file of the store, concatenated: what a stolen disk holds. */
function diskBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
}

function walFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('wal-'))
    .sort();
}

/** Writes entries 1..20 holding the secret, a snapshot holding it at 10, and rolls segments over. */
function writeStore(dir: string, encryption?: WalEncryption): ReturnType<typeof observe> {
  const s = WalStorage.open(dir, { initialConfState: CONF, segmentBytes: 600, ...(encryption ? { encryption } : {}) });
  for (let i = 0; i < 4; i++) s.save({ term: 1, vote: 'a', commit: i * 5 + 5 }, secretEntries(i * 5 + 1, i * 5 + 6, 1));
  s.createSnapshot(10, CONF, new TextEncoder().encode(`${SECRET}-snapshot`));
  const seen = observe(s);
  s.close();
  return seen;
}

function errorOf(fn: () => unknown): ParleyError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ParleyError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

const reasonOf = (err: ParleyError) => (err.details as { reason?: string } | undefined)?.reason;

test('with encryption the disk never holds a planted value, without it does; a restart reads everything back', () => {
  withTempDir((dir) => {
    writeStore(dir);
    assert.ok(diskBytes(dir).includes(SECRET), 'a clear store holds the value');
    assert.ok(readdirSync(dir).some((f) => f.startsWith('snap-') && readFileSync(join(dir, f)).includes(SECRET)));
  });
  withTempDir((dir) => {
    const before = writeStore(dir, ENC_1);
    assert.ok(walFiles(dir).length >= 3, 'segments rolled over');
    assert.equal(diskBytes(dir).includes(SECRET), false, 'no segment or snapshot file holds the value');
    const r = WalStorage.open(dir, { encryption: ENC_1 });
    assert.equal(r.encrypted, true);
    assert.deepEqual(observe(r), before);
    assert.equal(new TextDecoder().decode(r.entries(7, 8, 100)[0]!.data), `${SECRET}-7`);
    assert.equal(new TextDecoder().decode(r.snapshot().data), `${SECRET}-snapshot`);
    r.save({ term: 2, vote: 'b', commit: 20 }, secretEntries(21, 23, 2));
    r.applySnapshot({ metadata: { index: 30, term: 2, confState: CONF }, data: new TextEncoder().encode(SECRET) });
    const after = observe(r);
    r.close();
    assert.equal(diskBytes(dir).includes(SECRET), false);
    const again = WalStorage.open(dir, { encryption: ENC_1 });
    assert.deepEqual(observe(again), after);
    again.close();
  });
});

/** The offset and length of the Nth entry record of `file` (sealed or not). */
function entryRecords(dir: string, file: string) {
  return scanSegment(readFileSync(join(dir, file)), file, true).records.filter(
    (r) => r.type === RecordType.SealedEntries || r.type === RecordType.Entry,
  );
}

/** Appends entry 21 with nothing after it: the WAL's very last record is a sealed entry. */
function appendTailEntry(dir: string, encryption: WalEncryption): void {
  const s = WalStorage.open(dir, { encryption });
  s.save(s.initialState().hardState, secretEntries(s.lastIndex() + 1, s.lastIndex() + 2, 1));
  s.close();
}

/** The last segment holding at least two entry records. */
function lastFileWithEntries(dir: string): string {
  return walFiles(dir)
    .filter((f) => entryRecords(dir, f).length >= 2)
    .pop()!;
}

/** Flips one bit of the record at `offset` and, when `fixChecksum`, recomputes its checksums (a deliberate edit). */
function flipInRecord(path: string, offset: number, byte: number, fixChecksum: boolean): void {
  const bytes = readFileSync(path);
  const length = bytes.readUInt32LE(offset);
  bytes[offset + HEADER_BYTES + (byte < 0 ? length + byte : byte)]! ^= 0x10;
  if (fixChecksum) writeHeader(bytes, offset, bytes[offset + 4] as RecordType, length);
  writeFileSync(path, bytes);
}

test('an edited sealed record is refused as tampering, even at the tail; a torn (checksum-failing) tail is still cut', () => {
  for (const where of ['middle', 'tail'] as const) {
    for (const byte of [-20, 20]) {
      // -20: the ciphertext's end (or the tag); 20: the first index, in the clear but bound as AAD.
      withTempDir((dir) => {
        writeStore(dir, ENC_1);
        appendTailEntry(dir, ENC_1);
        const last = walFiles(dir).pop()!;
        const records = entryRecords(dir, last);
        const target = where === 'tail' ? records[records.length - 1]! : records[0]!;
        flipInRecord(join(dir, last), target.offset, byte, true);
        const err = errorOf(() => WalStorage.open(dir, { encryption: ENC_1 }));
        assert.ok(ParleyError.is(err, 'DATA_LOSS'), err.message);
        assert.equal(reasonOf(err), 'tampered', err.message);
        assert.match(err.message, /data key 1/);
        assert.ok(err.message.includes(`${last} at byte offset ${target.offset}`), err.message);
      });
    }
  }
  withTempDir((dir) => {
    writeStore(dir, ENC_1);
    appendTailEntry(dir, ENC_1);
    const opened = WalStorage.open(dir, { encryption: ENC_1 });
    const before = observe(opened);
    opened.close();
    const last = walFiles(dir).pop()!;
    const records = entryRecords(dir, last);
    const tail = records[records.length - 1]!;
    flipInRecord(join(dir, last), tail.offset, -20, false);
    const r = WalStorage.open(dir, { encryption: ENC_1 });
    assert.equal(r.lastIndex(), before.last - 1, 'the torn tail entry is cut, as without encryption');
    r.close();
    const first = walFiles(dir).find((f) => entryRecords(dir, f).length > 0)!;
    flipInRecord(join(dir, first), entryRecords(dir, first)[0]!.offset, -20, false);
    const err = errorOf(() => WalStorage.open(dir, { encryption: ENC_1 }));
    assert.ok(ParleyError.is(err, 'DATA_LOSS') && /corrupted/.test(err.message), err.message);
  });
});

test('a sealed record moved to another index, or into another store under the same key, does not open', () => {
  withTempDir((dir) => {
    writeStore(dir, ENC_1);
    // Two records of one segment with the same length (saves of entries 11-15 and 16-20).
    const length = (path: string, offset: number) => readFileSync(path).readUInt32LE(offset);
    const file = walFiles(dir).find((f) => {
      const rs = entryRecords(dir, f);
      return rs.length >= 2 && length(join(dir, f), rs[0]!.offset) === length(join(dir, f), rs[1]!.offset);
    })!;
    assert.ok(file, 'a segment with two records of equal length');
    const path = join(dir, file);
    const [a, b] = entryRecords(dir, file);
    const bytes = readFileSync(path);
    // Record b's bytes replaced by a's with b's first index (payload offset 17): valid checksums.
    const len = bytes.readUInt32LE(a!.offset);
    const moved = Buffer.from(bytes.subarray(a!.offset, a!.offset + HEADER_BYTES + len));
    moved.writeDoubleLE(bytes.readDoubleLE(b!.offset + HEADER_BYTES + 17), HEADER_BYTES + 17);
    writeHeader(moved, 0, RecordType.SealedEntries, len);
    moved.copy(bytes, b!.offset);
    writeFileSync(path, bytes);
    const err = errorOf(() => WalStorage.open(dir, { encryption: ENC_1 }));
    assert.equal(reasonOf(err), 'tampered', err.message);
  });
  withTempDir((one) =>
    withTempDir((two) => {
      writeStore(one, ENC_1);
      writeStore(two, ENC_1);
      const file = lastFileWithEntries(one);
      assert.ok(walFiles(two).includes(file), 'both stores have the same layout');
      const [rec] = entryRecords(one, file);
      const from = readFileSync(join(one, file));
      const into = readFileSync(join(two, file));
      const len = from.readUInt32LE(rec!.offset);
      from.copy(into, rec!.offset, rec!.offset, rec!.offset + HEADER_BYTES + len);
      writeFileSync(join(two, file), into);
      const err = errorOf(() => WalStorage.open(two, { encryption: ENC_1 }));
      assert.equal(reasonOf(err), 'tampered', 'another store id is bound into the AAD');
    }),
  );
});

test('a missing, unknown or wrong key is a clear error naming the key id', () => {
  withTempDir((dir) => {
    writeStore(dir, ENC_1);
    const none = errorOf(() => WalStorage.open(dir));
    assert.ok(ParleyError.is(none, 'FAILED_PRECONDITION'));
    assert.equal(reasonOf(none), 'data-key-required');
    assert.match(none.message, /data key 1.*--data-key-file/);
    const unknown = errorOf(() =>
      WalStorage.open(dir, { encryption: { keyring: { keys: [{ id: 2, key: key(2) }], active: 2 } } }),
    );
    assert.ok(ParleyError.is(unknown, 'FAILED_PRECONDITION'));
    assert.equal(reasonOf(unknown), 'unknown-data-key');
    assert.match(unknown.message, /data key 1, which the keyring does not hold: add key 1/);
    const wrong = errorOf(() =>
      WalStorage.open(dir, { encryption: { keyring: { keys: [{ id: 1, key: key(9) }], active: 1 } } }),
    );
    assert.ok(ParleyError.is(wrong, 'DATA_LOSS'));
    assert.equal(reasonOf(wrong), 'tampered');
    assert.match(wrong.message, /holds a different key 1/);
    const bad = errorOf(() =>
      WalStorage.open(dir, { encryption: { keyring: { keys: [{ id: 0, key: key(1) }], active: 0 } } }),
    );
    assert.ok(ParleyError.is(bad, 'INVALID_ARGUMENT'));
  });
});

test('rotation: new records use the active key, old ones open while their key is held; a snapshot and compaction retire it', () => {
  withTempDir((dir) => {
    writeStore(dir, ENC_1);
    const both: WalEncryption = {
      keyring: {
        keys: [
          { id: 1, key: key(1) },
          { id: 2, key: key(2) },
        ],
        active: 2,
      },
    };
    const only2: WalEncryption = { keyring: { keys: [{ id: 2, key: key(2) }], active: 2 } };
    const s = WalStorage.open(dir, { encryption: both, segmentBytes: 600 });
    s.save({ term: 2, vote: 'a', commit: 30 }, secretEntries(21, 31, 2));
    const before = observe(s);
    s.close();
    assert.equal(reasonOf(errorOf(() => WalStorage.open(dir, { encryption: only2 }))), 'unknown-data-key');
    const r = WalStorage.open(dir, { encryption: both, segmentBytes: 600 });
    assert.deepEqual(observe(r), before);
    r.createSnapshot(30, CONF, new TextEncoder().encode('state at 30'));
    r.compact(30);
    r.save({ term: 2, vote: 'a', commit: 31 }, secretEntries(31, 32, 2));
    const after = observe(r);
    r.close();
    const keyIds = walFiles(dir).flatMap((f) =>
      entryRecords(dir, f).map((rec) => readFileSync(join(dir, f))[rec.offset + HEADER_BYTES]),
    );
    assert.ok(keyIds.length > 0);
    assert.deepEqual(new Set(keyIds), new Set([2]), 'no record sealed under key 1 is left on disk');
    const retired = WalStorage.open(dir, { encryption: only2 });
    assert.deepEqual(observe(retired), after);
    retired.close();
    assert.equal(diskBytes(dir).includes(SECRET), false);
  });
});

test('a store written in the clear is refused with encryption on, unless plaintext is accepted; a snapshot and compaction then seal it all', () => {
  withTempDir((dir) => {
    const before = writeStore(dir);
    const refused = errorOf(() => WalStorage.open(dir, { encryption: ENC_1 }));
    assert.ok(ParleyError.is(refused, 'FAILED_PRECONDITION'));
    assert.equal(reasonOf(refused), 'plaintext-at-rest');
    assert.match(refused.message, /20 entries .* and the snapshot .*--data-key-migrate/);
    const migrating = WalStorage.open(dir, { encryption: { ...ENC_1, acceptPlaintext: true }, segmentBytes: 600 });
    assert.deepEqual(observe(migrating), before);
    migrating.save({ term: 2, vote: 'a', commit: 25 }, secretEntries(21, 26, 2));
    migrating.createSnapshot(25, CONF, new TextEncoder().encode(`${SECRET}-snapshot-2`));
    migrating.compact(25);
    const after = observe(migrating);
    migrating.close();
    assert.equal(diskBytes(dir).includes(SECRET), false, 'every clear record and the clear snapshot are gone');
    const sealed = WalStorage.open(dir, { encryption: ENC_1 });
    assert.deepEqual(observe(sealed), after);
    sealed.close();
    assert.equal(reasonOf(errorOf(() => WalStorage.open(dir))), 'data-key-required');
  });
});

test('an empty store opened with and without encryption has nothing to refuse', () => {
  withTempDir((dir) => {
    const s = WalStorage.open(dir, { initialConfState: CONF, encryption: ENC_1 });
    s.close();
    WalStorage.open(dir).close();
    const again = WalStorage.open(dir, { encryption: ENC_1 });
    again.save({ term: 1, vote: 'a', commit: 1 }, entries(1, 2, 1));
    again.close();
    assert.equal(reasonOf(errorOf(() => WalStorage.open(dir))), 'data-key-required');
  });
});
