/**
 * `parley server` with fault injection, for the nemesis: the same command (src/cli/commands/server.ts),
 * but its TCP transport is wrapped in a FaultyTransport whose rules come from the file named by
 * PARLEY_FAULT_FILE (src/cli/testing/fault-control.ts). Test-only: the shipped `parley` command has
 * no fault injection at all.
 *
 *   PARLEY_FAULT_FILE=/tmp/n1.faults.json node dist/test/nemesis/faulty-server.js --id n1 --listen 127.0.0.1:7501 …
 */

import { runServer } from '../../src/cli/commands/server.js';
import { FAULT_FILE_ENV, faultControlFromEnv } from '../../src/cli/testing/fault-control.js';
import { splitHostPort } from '../../src/cluster/server/start-server.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';
import { FaultyTransport } from '../../src/transport/testing/faulty-transport.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../../src/transport/transport.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../src/wire/frame.js';

const argv = process.argv.slice(2);
const control = faultControlFromEnv();
const listenAt = argv.indexOf('--listen');
if (control === undefined || listenAt < 0 || argv[listenAt + 1] === undefined) {
  process.stderr.write(
    `usage: ${FAULT_FILE_ENV}=FILE node faulty-server.js --listen host:port [parley server flags]\n`,
  );
  process.exit(2);
}
const { host, port } = splitHostPort(argv[listenAt + 1]!);
const tcp = new TcpTransport({
  host,
  port,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  maxOutboundBytes: DEFAULT_MAX_OUTBOUND_BYTES,
});
process.exitCode = await runServer(argv, { transport: new FaultyTransport(tcp, control.injector) });
control.stop();
