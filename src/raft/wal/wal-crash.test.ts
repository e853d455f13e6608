import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ParleyError } from '../../wire/parley-error.js';
import { seededRandom } from '../testing/mini-cluster.js';
import type { Entry, HardState } from '../types.js';
import type { WalEncryption } from './data-keyring.js';
import { scanSegment } from './segment-scan.js';
import { CONF, entry, observe, withTempDir } from './testing/wal-test-helpers.js';
import { WalStorage } from './wal-storage.js';

/**
 * Crash-recovery properties. Each run writes a random history of save() calls (appends,
 * conflicting-suffix overwrites, term/vote/commit changes, segment rollovers), then damages
 * the files the way a crash or a bad disk would, reopens, and compares against an
 * independent model of what was saved. Each property runs on a clear WAL and on one with
 * encryption at rest (sealed entries, a store id in every segment's preamble).
 */

interface Mode {
  readonly name: string;
  readonly options: { encryption?: WalEncryption };
  /** Records in a segment's preamble (header, [store id,] snapshot, compaction mark, hard state). */
  readonly preambleRecords: number;
  readonly runs: number;
}

const MODES: Mode[] = [
  { name: 'clear', options: {}, preambleRecords: 4, runs: 150 },
  {
    name: 'encrypted',
    options: { encryption: { keyring: { keys: [{ id: 3, key: new Uint8Array(32).fill(3) }], active: 3 } } },
    preambleRecords: 5,
    runs: 60,
  },
];

interface Save {
  readonly hs: HardState;
  readonly entries: Entry[];
  /** Where this save's bytes ended: segment file and its size after the save. */
  readonly file: string;
  readonly end: number;
}

interface ModelState {
  readonly log: Entry[]; // log[i].index === i + 1 (no compaction in these runs)
  readonly hs: HardState;
}

const rng = seededRandom;

/** Writes a random history into `dir`; returns the saves in order. */
function writeHistory(dir: string, seed: number, mode: Mode): Save[] {
  const rand = rng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const s = WalStorage.open(dir, { ...mode.options, initialConfState: CONF, segmentBytes: 700 + pick(1500) });
  const saves: Save[] = [];
  let hs: HardState = { term: 1, vote: 'a', commit: 0 };
  let last = 0;
  const n = 3 + pick(12);
  for (let i = 0; i < n; i++) {
    if (pick(5) === 0) hs = { term: hs.term + 1, vote: pick(2) ? 'b' : null, commit: hs.commit };
    // Overwrite anywhere above the commit index, usually append at the end.
    const first = pick(4) === 0 ? hs.commit + 1 + pick(last - hs.commit + 1) : last + 1;
    const count = pick(6);
    const ents: Entry[] = [];
    for (let k = 0; k < count; k++) ents.push(entry(first + k, hs.term, pick(60)));
    if (count > 0) last = first + count - 1;
    hs = { ...hs, commit: Math.min(last, hs.commit + pick(4)) };
    // A save writes into the segment open before it (a rollover happens after its sync).
    const files = s.segmentFiles();
    const file = files[files.length - 1]!;
    s.save(hs, ents);
    saves.push({ hs, entries: ents, file, end: statSync(join(dir, file)).size });
  }
  s.close();
  return saves;
}

function applyEntries(log: Entry[], ents: readonly Entry[]): Entry[] {
  if (ents.length === 0) return log;
  return [...log.slice(0, ents[0]!.index - 1), ...ents];
}

/**
 * Every state recovery may legally produce when save number k (0-based) was the one in
 * flight: everything before it, plus any prefix of its records (entries, then hard state).
 */
function candidates(saves: Save[], k: number): ModelState[] {
  let st: ModelState = { log: [], hs: { term: 0, vote: null, commit: 0 } };
  for (let i = 0; i < k; i++) st = { log: applyEntries(st.log, saves[i]!.entries), hs: saves[i]!.hs };
  if (k >= saves.length) return [st];
  const save = saves[k]!;
  const out: ModelState[] = [];
  for (let j = 0; j <= save.entries.length; j++)
    out.push({ log: applyEntries(st.log, save.entries.slice(0, j)), hs: st.hs });
  out.push({ log: applyEntries(st.log, save.entries), hs: save.hs });
  return out;
}

function matches(s: WalStorage, m: ModelState): boolean {
  const o = observe(s);
  const hs = o.hardState;
  if (hs.term !== m.hs.term || hs.vote !== m.hs.vote || hs.commit !== m.hs.commit) return false;
  if (o.first !== 1 || o.last !== m.log.length) return false;
  return m.log.every((e, i) => {
    const r = o.entries[i]!;
    return (
      r.index === e.index &&
      r.term === e.term &&
      r.data.length === e.data.length &&
      r.data.every((b, x) => b === e.data[x])
    );
  });
}

function recordStarts(dir: string, file: string): number[] {
  return scanSegment(readFileSync(join(dir, file)), file, true).records.map((r) => r.offset);
}

for (const m of MODES)
  test(`${m.name}: crash at any offset of the last segment recovers a prefix, keeping every save that completed before it`, () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('cut', 'zeros', 'garbage'),
        (seed, where, mode) => {
          withTempDir((dir) => {
            const saves = writeHistory(dir, seed, m);
            const lastFile = readdirSync(dir)
              .filter((f) => f.startsWith('wal-'))
              .sort()
              .pop()!;
            const path = join(dir, lastFile);
            const size = statSync(path).size;
            // The segment's preamble is written by rename and cannot be torn: cut after it.
            const preambleEnd = recordStarts(dir, lastFile)[m.preambleRecords] ?? size;
            const at = preambleEnd + Math.floor(where * (size - preambleEnd + 1));
            const at2 = Math.min(at, size);
            if (mode === 'cut') truncateSync(path, at2);
            else {
              const bytes = readFileSync(path);
              const tail = bytes.subarray(at2);
              if (mode === 'zeros') tail.fill(0);
              else for (let i = 0; i < tail.length; i++) tail[i] = (i * 131 + seed) & 0xff;
              writeFileSync(path, bytes);
            }
            // The first save whose bytes were not all kept.
            let k = saves.findIndex((sv) => sv.file === lastFile && sv.end > at2);
            if (k === -1) k = saves.length;
            const r = WalStorage.open(dir, m.options);
            try {
              const ok = candidates(saves, k).some((c) => matches(r, c));
              assert.ok(ok, `recovered state is not a legal prefix (seed ${seed}, cut ${at2}/${size}, mode ${mode})`);
              // The recovered WAL accepts new writes and survives another restart.
              const last = r.lastIndex();
              r.save({ ...r.initialState().hardState, term: 99 }, [entry(last + 1, 99)]);
              const before = observe(r);
              r.close();
              const again = WalStorage.open(dir, m.options);
              assert.deepEqual(observe(again), before);
              again.close();
            } finally {
              r.close();
            }
          });
        },
      ),
      { seed: 20261123, numRuns: m.runs },
    );
  });

for (const m of MODES)
  test(`${m.name}: a bit flip is DATA_LOSS naming file and record offset, unless it hits the very last record`, () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 7 }), (seed, fileSel, offSel, bit) => {
        withTempDir((dir) => {
          const saves = writeHistory(dir, seed, m);
          const files = readdirSync(dir)
            .filter((f) => f.startsWith('wal-'))
            .sort();
          const file = files[fileSel % files.length]!;
          const isLastFile = file === files[files.length - 1];
          const path = join(dir, file);
          const bytes = readFileSync(path);
          const starts = recordStarts(dir, file);
          const off = offSel % bytes.length;
          const recordStart = starts.filter((s) => s <= off).pop()!;
          const isLastRecord = isLastFile && recordStart === starts[starts.length - 1];
          bytes[off]! ^= 1 << bit;
          writeFileSync(path, bytes);
          let r: WalStorage;
          try {
            r = WalStorage.open(dir, m.options);
          } catch (err) {
            assert.ok(ParleyError.is(err, 'DATA_LOSS'), `expected DATA_LOSS, got ${String(err)}`);
            assert.ok(!isLastRecord, 'damage in the tail record must be truncated, not refused');
            assert.ok(err.message.includes(file), err.message);
            assert.ok(err.message.includes(`byte offset ${recordStart}`), `${err.message} (flip at ${off})`);
            return;
          }
          try {
            assert.ok(isLastRecord, `a flip at ${file}:${off} (record ${recordStart}) was accepted silently`);
            let k = saves.findIndex((sv) => sv.file === file && sv.end > recordStart);
            if (k === -1) k = saves.length; // the record was a restatement in a segment preamble
            const ok = candidates(saves, k).some((c) => matches(r, c));
            assert.ok(ok, 'dropping the tail record must leave a prefix');
          } finally {
            r.close();
          }
        });
      }),
      { seed: 7, numRuns: m.runs },
    );
  });
