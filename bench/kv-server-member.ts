/**
 * One Parley KV cluster member for the KV benchmark, in its own OS process:
 *
 *   node dist/bench/kv-server-member.js <id> <data-dir> <host:port> <id=host:port,...>
 *
 * Runs exactly what `parley server --id --data --listen --peers` runs (src/cluster/server.ts startServer, default
 * raft settings, WAL with fdatasync), and reports ready with the peer-process protocol. Used until `parley server`
 * is available from bin/parley on this branch.
 */
import { createInterface } from 'node:readline';
import { startServer } from '../src/cluster/server.js';
import { type ChildMessage, MARKER } from './harness/peer-process-protocol.js';

function tell(message: ChildMessage): void {
  process.stdout.write(`${MARKER}${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const [id, dataDir, listen, peersArg] = process.argv.slice(2);
  if (!id || !dataDir || !listen || !peersArg) {
    throw new Error('usage: kv-server-member.js <id> <data-dir> <host:port> <id=host:port,...>');
  }
  const peers = Object.fromEntries(peersArg.split(',').map((pair) => pair.split('=') as [string, string]));
  const server = await startServer({ id, dataDir, listen, peers, logger: 'error' });
  tell({ type: 'ready', address: server.address, description: `parley server ${id}` });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3000).unref();
    await server.stop().catch(() => undefined);
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const command = JSON.parse(line) as { id: number; cmd: string };
    if (command.cmd === 'stop') {
      tell({ type: 'reply', id: command.id, ok: true, result: null });
      void stop();
    } else {
      tell({ type: 'reply', id: command.id, ok: false, error: `unknown command '${command.cmd}'` });
    }
  });
  lines.on('close', () => void stop());
}

main().catch((err) => {
  tell({ type: 'failed', unavailable: false, message: (err as Error)?.stack ?? String(err) });
  process.exit(1);
});
