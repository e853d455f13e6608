import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalStorage } from '../src/raft/wal/wal-storage.js';

/**
 * The durable write path alone: one WalStorage.save() per simulated Ready, each with `batch`
 * 128-byte entries and a hard state, fdatasync on. A batch of N stands for N proposals that
 * arrived during one fsync (group commit). This bounds what one member can persist per second.
 * `encrypted`: with encryption at rest (entry data sealed with AES-256-GCM, record-sealer.ts).
 */
export interface WalBenchRow {
  readonly batch: number;
  readonly saves: number;
  readonly entriesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly mbPerSec: number;
}

export function benchWalSaves(batch: number, durationMs: number, entryBytes = 128, encrypted = false): WalBenchRow {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-wal-'));
  const wal = WalStorage.open(dir, {
    initialConfState: { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false },
    ...(encrypted ? { encryption: { keyring: { keys: [{ id: 1, key: randomBytes(32) }], active: 1 } } } : {}),
  });
  const data = new Uint8Array(entryBytes).fill(7);
  const latencies: number[] = [];
  let index = 0;
  const start = performance.now();
  try {
    while (performance.now() - start < durationMs) {
      const ents = [];
      for (let i = 0; i < batch; i++) ents.push({ term: 1, index: ++index, type: 0 as const, data });
      const t0 = performance.now();
      wal.save({ term: 1, vote: 'a', commit: index - batch }, ents);
      latencies.push(performance.now() - t0);
    }
  } finally {
    wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return {
    batch,
    saves: latencies.length,
    entriesPerSec: index / elapsed,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    mbPerSec: (index * entryBytes) / elapsed / 1e6,
  };
}
