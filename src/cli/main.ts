import { ParleyError } from '../wire/parley-error.js';
import { CALL_USAGE, runCall } from './commands/call.js';
import { CLUSTER_USAGE, runCluster } from './commands/cluster.js';
import { CONSUME_USAGE, runConsume } from './commands/consume.js';
import { BROADCAST_USAGE, EMIT_USAGE, runEmit } from './commands/emit.js';
import { KEYS_USAGE, runKeys } from './commands/keys.js';
import { KV_USAGE, runKv } from './commands/kv.js';
import { NODE_USAGE, runNode } from './commands/node.js';
import { PUBLISH_USAGE, runPublish } from './commands/publish.js';
import { runServer, SERVER_USAGE } from './commands/server.js';
import { runStatus, STATUS_USAGE } from './commands/status.js';
import { DLQ_USAGE, runDlq, runStream, STREAM_USAGE } from './commands/stream.js';
import { runUp, UP_USAGE } from './commands/up.js';
import { reportError } from './output.js';
import { SETTINGS_HELP } from './settings.js';
import { UsageError } from './usage-error.js';
import { packageVersion } from './version.js';

export const MAIN_USAGE = `usage: parley <command> [options]

Commands:
  up          start a local demo cluster of 3 nodes (what npm start runs)
  node        run the services a module exports on a new node
  call        call an action and print its result as JSON
  emit        emit an event (one handler per group)
  broadcast   broadcast an event (every handler)
  status      list the nodes of a mesh with their services and health
  server      run a member of a replicated KV / registry cluster
  cluster     cluster membership: status, add, remove
  kv          key-value operations: get, put, del, range, watch, txn, lease; KV roles: auth, user, role
  stream      durable streams: add, ls, info, rm
  publish     publish a message to a durable stream
  consume     fetch (and --ack) a consumer's messages from a durable stream
  dlq         dead letters of a stream: ls, replay
  keys        Ed25519 node keys for authentication: gen, pub

Run 'parley <command> --help' for a command's options; 'parley --version' prints the version.

${SETTINGS_HELP}`;

const COMMANDS: Record<string, { run: (argv: readonly string[]) => Promise<number>; usage: string }> = {
  up: { run: runUp, usage: UP_USAGE },
  node: { run: runNode, usage: NODE_USAGE },
  call: { run: runCall, usage: CALL_USAGE },
  emit: { run: (a) => runEmit(a, 'emit'), usage: EMIT_USAGE },
  broadcast: { run: (a) => runEmit(a, 'broadcast'), usage: BROADCAST_USAGE },
  status: { run: runStatus, usage: STATUS_USAGE },
  server: { run: runServer, usage: SERVER_USAGE },
  cluster: { run: runCluster, usage: CLUSTER_USAGE },
  kv: { run: runKv, usage: KV_USAGE },
  stream: { run: runStream, usage: STREAM_USAGE },
  publish: { run: runPublish, usage: PUBLISH_USAGE },
  consume: { run: runConsume, usage: CONSUME_USAGE },
  dlq: { run: runDlq, usage: DLQ_USAGE },
  keys: { run: runKeys, usage: KEYS_USAGE },
};

/** Runs the CLI and returns the exit code: 0 success, 1 failure, 2 bad usage. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${MAIN_USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`parley ${packageVersion()}\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`parley: unknown command '${command}'\n${MAIN_USAGE}\n`);
    return 2;
  }
  try {
    return await entry.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`parley ${command}: ${err.message}\n${err.usage}\n`);
      return 2;
    }
    if (err instanceof ParleyError) return reportError(err); // an expected failure: CODE: message, no stack
    process.stderr.write(`parley ${command}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
