import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfState, Entry, HardState } from '../../types.js';
import type { WalStorage } from '../wal-storage.js';

/** Helpers shared by the WAL tests (not part of the public API). */

export const CONF: ConfState = {
  voters: ['a', 'b', 'c'],
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
};

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'parley-wal-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function entry(index: number, term: number, size = 8): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, type: 0, data };
}

export function entries(lo: number, hi: number, term: number, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i < hi; i++) out.push(entry(i, term, size));
  return out;
}

/** Everything a reader can observe, in a comparable shape. */
export function observe(s: WalStorage): {
  hardState: HardState;
  confState: ConfState;
  first: number;
  last: number;
  entries: { index: number; term: number; type: number; data: number[] }[];
  snapshot: { index: number; term: number; data: number[] };
} {
  const { hardState, confState } = s.initialState();
  const first = s.firstIndex();
  const last = s.lastIndex();
  const snap = s.snapshot();
  return {
    hardState,
    confState,
    first,
    last,
    entries: s.entries(first, last + 1, Number.POSITIVE_INFINITY).map((e) => ({
      index: e.index,
      term: e.term,
      type: e.type,
      data: [...e.data],
    })),
    snapshot: { index: snap.metadata.index, term: snap.metadata.term, data: [...snap.data] },
  };
}
