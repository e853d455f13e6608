import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Consecutive free ports for CLI tests whose commands need fixed, known ports (`parley up
 * --port-base`, the examples of docs/CLI.md).
 *
 * The range is drawn below the kernel's ephemeral range: a port there is never handed out to
 * another test's `listen(0)` or outgoing connection between this probe and the command's own
 * bind, which is what made a range inside the ephemeral range fail now and then with EADDRINUSE.
 */
export async function freePortBase(count: number): Promise<number> {
  const top = ephemeralLow() - count;
  const bottom = Math.min(20_000, top - 1000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = bottom + Math.floor(Math.random() * (top - bottom));
    const held: net.Server[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const s = net.createServer();
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(base + i, '127.0.0.1', () => resolve());
        });
        held.push(s);
      }
      return base;
    } catch {
      // taken: try another range
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no free port range');
}

/** The first port of the ephemeral range (Linux: /proc; elsewhere the IANA range's start). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch {
    // not Linux
  }
  return 49_152;
}
