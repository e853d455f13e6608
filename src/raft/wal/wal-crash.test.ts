import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ParleyError } from '../../wire/parley-error.js';
import type { HardState } from '../types.js';
import { WalStorage } from './wal-storage.js';
import { CONF, entries, observe, withTempDir } from './wal-test-helpers.js';

/**
 * Crash recovery: a WAL whose last segment is cut or damaged at a random offset must come back as a
 * prefix of what was written (a torn tail is dropped), or refuse to start with DATA_LOSS naming the
 * file and offset — never with altered or missing entries in the middle.
 */

interface Written {
  /** File size after open (before the first save) and after each save. */
  sizes: number[];
  /** observe() after open and after each save. */
  states: ReturnType<typeof observe>[];
  file: string;
}

/** Writes `saves` batches into a fresh single-segment WAL and records sizes and states. */
function writeHistory(dir: string, saves: { count: number; size: number }[]): Written {
  const s = WalStorage.open(dir, { initialConfState: CONF });
  const file = join(dir, s.segmentFiles()[0]!);
  const sizes = [statSync(file).size];
  const states = [observe(s)];
  let next = 1;
  for (const b of saves) {
    const hs: HardState = { term: 1, vote: 'a', commit: Math.max(0, next - 1) };
    s.save(hs, entries(next, next + b.count, 1, b.size));
    next += b.count;
    sizes.push(statSync(file).size);
    states.push(observe(s));
  }
  s.close();
  return { sizes, states, file };
}

/** The recovered state must match some state between save k (whole) and save k+1 (partial). */
function assertPrefix(recovered: ReturnType<typeof observe>, w: Written, cut: number): void {
  let k = 0;
  for (let i = 0; i < w.sizes.length; i++) if (w.sizes[i]! <= cut) k = i;
  const whole = w.states[k]!;
  const partial = w.states[Math.min(k + 1, w.states.length - 1)]!;
  assert.ok(
    recovered.last >= whole.last,
    `lost entries of a save that was wholly on disk (last ${recovered.last} < ${whole.last})`,
  );
  assert.ok(recovered.last <= partial.last, 'recovered entries that were never written');
  const expected = partial.entries.slice(0, recovered.entries.length);
  assert.deepEqual(recovered.entries, expected, 'recovered entries differ from what was written');
  assert.ok(
    [whole.hardState, partial.hardState].some(
      (h) =>
        h.term === recovered.hardState.term &&
        h.vote === recovered.hardState.vote &&
        h.commit === recovered.hardState.commit,
    ),
    'hard state is neither the last whole one nor the one being written',
  );
}

const batches = fc.array(fc.record({ count: fc.integer({ min: 1, max: 4 }), size: fc.integer({ min: 0, max: 300 }) }), {
  minLength: 1,
  maxLength: 8,
});

test('a last segment cut at any offset recovers a prefix, truncates the tail, and keeps working', () => {
  fc.assert(
    fc.property(batches, fc.double({ min: 0, max: 1, noNaN: true }), (saves, where) => {
      withTempDir((dir) => {
        const w = writeHistory(dir, saves);
        const first = w.sizes[0]!;
        const last = w.sizes[w.sizes.length - 1]!;
        const cut = first + Math.floor(where * (last - first));
        truncateSync(w.file, cut);
        const r = WalStorage.open(dir);
        const recovered = observe(r);
        assertPrefix(recovered, w, cut);
        // The torn tail is gone for good: new saves append after the intact prefix and survive a restart.
        const next = recovered.last + 1;
        r.save({ term: 2, vote: 'b', commit: recovered.last }, entries(next, next + 2, 2));
        const after = observe(r);
        r.close();
        const again = WalStorage.open(dir);
        assert.deepEqual(observe(again), after);
        again.close();
      });
    }),
    { numRuns: 60, seed: 20261123 },
  );
});

test('a flipped bit is either a dropped torn tail or DATA_LOSS naming the file and offset', () => {
  let refused = 0;
  let recoveredCount = 0;
  fc.assert(
    fc.property(
      batches,
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 7 }),
      (saves, where, bit) => {
        withTempDir((dir) => {
          const w = writeHistory(dir, saves);
          const first = w.sizes[0]!;
          const last = w.sizes[w.sizes.length - 1]!;
          const offset = first + Math.min(last - first - 1, Math.floor(where * (last - first)));
          const bytes = readFileSync(w.file);
          bytes[offset] = bytes[offset]! ^ (1 << bit);
          writeFileSync(w.file, bytes);
          let r: WalStorage;
          try {
            r = WalStorage.open(dir);
          } catch (err) {
            assert.ok(ParleyError.is(err, 'DATA_LOSS'), `expected DATA_LOSS, got ${String(err)}`);
            assert.match((err as Error).message, /wal-.*\.log/, 'the message names the segment file');
            assert.match((err as Error).message, /offset \d+/, 'the message names the byte offset');
            refused++;
            return;
          }
          // Accepted: only a damaged last record may have been dropped; everything before the flip is intact.
          recoveredCount++;
          const recovered = observe(r);
          r.close();
          assertPrefix(recovered, w, offset);
        });
      },
    ),
    { numRuns: 80, seed: 1123 },
  );
  assert.ok(refused > 0, 'some flips in the middle of the log were refused');
  assert.ok(recoveredCount > 0, 'some flips in the last record were dropped as a torn tail');
});
