import { benchWalSaves } from './raft-wal-bench.js';

/**
 * `npm run bench -- raft [--seconds N]`
 *
 * Today this measures the WAL's durable write path (group commit of 128-byte entries, one
 * fdatasync per save). The 3-process cluster benchmark needs the core's RawNode and the
 * driver, which were not wired yet when this was written.
 */
export async function run(args: string[]): Promise<void> {
  const i = args.indexOf('--seconds');
  const seconds = i >= 0 ? Number(args[i + 1]) : 2;
  const rows = [1, 16, 256].map((batch) => benchWalSaves(batch, seconds * 1000));
  console.log(`WAL save() with fdatasync, 128-byte entries, ${seconds}s per row (one save = one Ready)`);
  console.log('entries/save   saves   entries/s      MB/s   save p50 ms   save p99 ms');
  for (const r of rows) {
    console.log(
      `${String(r.batch).padStart(12)} ${String(r.saves).padStart(7)} ${r.entriesPerSec.toFixed(0).padStart(11)} ${r.mbPerSec
        .toFixed(2)
        .padStart(9)} ${r.p50Ms.toFixed(3).padStart(13)} ${r.p99Ms.toFixed(3).padStart(13)}`,
    );
  }
}
