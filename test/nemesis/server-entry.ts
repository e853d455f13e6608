/**
 * A cluster member for the nemesis when the build has no `parley server` command: the same flags
 * (`--id --data --listen --peers id=host:port,... [--join] [--log-level L]`), the same ready line,
 * the same graceful stop on SIGINT/SIGTERM, and fault injection from PARLEY_FAULT_FILE.
 * ServerCluster prefers `bin/parley server` when the CLI has it.
 */
import { parseArgs } from 'node:util';
import { faultControlFromEnv } from '../../src/cli/fault-control.js';
import { startServer } from '../../src/cluster/server.js';
import type { LogLevel } from '../../src/transport/logger.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string' },
    data: { type: 'string' },
    listen: { type: 'string' },
    peers: { type: 'string', multiple: true },
    join: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
});
if (!values.id || !values.data || !values.listen) {
  process.stderr.write(
    'usage: server-entry --id ID --data DIR --listen host:port [--peers id=host:port,...] [--join]\n',
  );
  process.exit(2);
}
const peers: Record<string, string> = {};
for (const entry of (values.peers ?? []).flatMap((p) => p.split(','))) {
  const [id, address] = entry.split('=');
  if (id && address) peers[id] = address;
}
const faults = faultControlFromEnv();
const server = await startServer({
  id: values.id,
  dataDir: values.data,
  listen: values.listen,
  peers,
  join: values.join === true,
  logger: (values['log-level'] as LogLevel | undefined) ?? 'warn',
  ...(faults ? { faultInjector: faults.injector } : {}),
});
process.stdout.write(`parley server ${values.id} listening on ${server.address} (services: $kv, $raft, $cluster)\n`);
const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
