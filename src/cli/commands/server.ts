import { type ServerOptions, splitHostPort, startServer } from '../../cluster/server/start-server.js';
import { isLoopbackHost } from '../../node/listen-security.js';
import { type DataKeyring, type EncryptionAtRestOptions, parseDataKeyFile } from '../../raft/wal/data-keyring.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { reportError } from '../output.js';
import { watchQuorum } from '../quorum-watch.js';
import {
  checkIdentity,
  checkListenExposure,
  LISTENER_SECURITY_FLAGS,
  LISTENER_SECURITY_HELP,
  readSecretFile,
  securityFromFlags,
} from '../security-flags.js';
import { untilStopSignal } from '../stop-signals.js';
import { UsageError } from '../usage-error.js';

export const SERVER_USAGE = `usage: parley server --id ID --data DIR --listen host:port [--advertise host:port] [--peers id=host:port,...] [--join]
                     [--snapshot-every N] [--policy FILE] [--log-level L]
                     [--secret-file F | --key F --trust F | --tls-* --mtls] [--insecure]
                     [--data-key-file F [--data-key-migrate]]

Runs one member of a replicated KV / registry cluster (services $kv, $raft, $cluster) until
SIGINT or SIGTERM, then stops gracefully. Restarts from DIR. Exits with status 1, saying so,
when the member is removed from the cluster ('parley cluster remove').

  --id ID              member id (also the node id)
  --data DIR           data directory (write-ahead log and snapshots), created if missing
  --listen host:port   where this member listens; the other members dial it
  --advertise host:port  the address the other members dial, when not the listen address
                       (e.g. --listen 0.0.0.0:7401 --advertise 10.0.0.5:7401); or PARLEY_ADVERTISE
  --peers id=host:port,...  the members of the initial cluster (repeatable); omitted: a single-member cluster
  --join               this member was added with 'parley cluster add' and joins a running cluster
  --snapshot-every N   snapshot and compact the log every N applied entries (default 100000)
  --policy FILE        authorization policy (JSON, re-read every second; docs/SECURITY.md): who may
                       read and write which keys, who the cluster members are; or PARLEY_POLICY
  --log-level L        debug | info | warn | error | silent (default warn)
  --data-key-file F    encrypt the log and snapshots in DIR (AES-256-GCM) with the data keys in F:
                       ID:BASE64KEY lines from 'parley keys gen --data-key', the highest id active
                       (chmod 600 F); or PARLEY_DATA_KEY_FILE. Protects a stolen disk or backup,
                       not a compromised server (docs/SECURITY.md#encryption-at-rest)
  --data-key-migrate   with --data-key-file: accept a DIR written without encryption; new records
                       are sealed, and the next snapshot and compaction remove the clear ones

${LISTENER_SECURITY_HELP}`;

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** Parses `id=host:port` lists (comma-separated and/or repeated). */
export function parsePeers(value: unknown, usage: string): Record<string, string> {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  const peers: Record<string, string> = {};
  for (const item of list.flatMap((s: string) => s.split(',')).filter((s: string) => s.length > 0)) {
    const m = /^([^\s=]+)=((?:\[[^\]]+\]|[^\s:]+):\d{1,5})$/.exec(item);
    if (m === null) throw new UsageError(`--peers expects id=host:port, got '${item}'`, usage);
    peers[m[1]!] = m[2]!;
  }
  return peers;
}

/** --data-key-file (read and checked here, so a bad file is a usage error) and --data-key-migrate. */
function dataKeysFromFlags(flags: Record<string, unknown>): EncryptionAtRestOptions | undefined {
  const file =
    typeof flags['data-key-file'] === 'string' && flags['data-key-file'] !== '' ? flags['data-key-file'] : undefined;
  if (file === undefined) {
    if (flags['data-key-migrate'] === true) {
      throw new UsageError('--data-key-migrate needs --data-key-file FILE', SERVER_USAGE);
    }
    return undefined;
  }
  const text = readSecretFile('--data-key-file', file, SERVER_USAGE);
  let keyring: DataKeyring;
  try {
    keyring = parseDataKeyFile(text, `--data-key-file ${file}`);
  } catch (err) {
    throw new UsageError((err as Error).message, SERVER_USAGE);
  }
  return { keyring, ...(flags['data-key-migrate'] === true ? { acceptPlaintext: true } : {}) };
}

/**
 * Runs `parley server`. `overrides.transport` replaces the TCP transport built from --listen (the
 * fault tests wrap one in a FaultyTransport: test/nemesis/faulty-server.ts).
 */
export async function runServer(
  argv: readonly string[],
  overrides: Pick<ServerOptions, 'transport'> = {},
): Promise<number> {
  const { flags } = parseCommandArgs(
    argv,
    {
      id: { type: 'string' },
      data: { type: 'string' },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      peers: { type: 'string', multiple: true },
      join: { type: 'boolean' },
      'snapshot-every': { type: 'string' },
      policy: { type: 'string' },
      'log-level': { type: 'string' },
      'data-key-file': { type: 'string' },
      'data-key-migrate': { type: 'boolean' },
      ...LISTENER_SECURITY_FLAGS,
    },
    SERVER_USAGE,
    { min: 0, max: 0 },
  );
  if (flags.help) {
    process.stdout.write(`${SERVER_USAGE}\n`);
    return 0;
  }
  for (const required of ['id', 'data', 'listen'] as const) {
    if (typeof flags[required] !== 'string' || flags[required] === '') {
      throw new UsageError(`--${required} is required`, SERVER_USAGE);
    }
  }
  const id = flags.id as string;
  if (/\s|=|,/.test(id)) throw new UsageError('--id must not contain spaces, = or ,', SERVER_USAGE);
  const listen = flags.listen as string;
  if (!/^(\[[^\]]+\]|[^\s:]+):\d{1,5}$/.test(listen)) {
    throw new UsageError(`--listen expects host:port, got '${listen}'`, SERVER_USAGE);
  }
  const level = (flags['log-level'] as string | undefined) ?? 'warn';
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`, SERVER_USAGE);
  }
  const advertise = flags.advertise as string | undefined;
  if (advertise !== undefined && !/^(\[[^\]]+\]|[^\s:]+):\d{1,5}$/.test(advertise)) {
    throw new UsageError(`--advertise expects host:port, got '${advertise}'`, SERVER_USAGE);
  }
  const peers = parsePeers(flags.peers, SERVER_USAGE);
  const dialed = advertise ?? listen;
  if (peers[id] !== undefined && peers[id] !== dialed) {
    throw new UsageError(
      `--peers gives ${id}=${peers[id]} but this member is dialed at ${dialed} (${advertise ? '--advertise' : '--listen'})`,
      SERVER_USAGE,
    );
  }
  const security = securityFromFlags(flags, SERVER_USAGE);
  checkIdentity(id, security, SERVER_USAGE);
  checkListenExposure(splitHostPort(listen).host, security, `--listen ${listen}`, SERVER_USAGE, isLoopbackHost);
  const encryptionAtRest = dataKeysFromFlags(flags);
  const snapshotEvery = intFlag(flags['snapshot-every'], 'snapshot-every', SERVER_USAGE, 1, 1e9);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      id,
      dataDir: flags.data as string,
      listen,
      ...(advertise ? { advertise } : {}),
      peers,
      join: flags.join === true,
      logger: level as (typeof LEVELS)[number],
      raft: snapshotEvery === undefined ? {} : { snapshotEvery },
      ...(flags.policy ? { policy: flags.policy as string } : {}),
      ...(overrides.transport ? { transport: overrides.transport } : {}),
      ...(security.auth ? { auth: security.auth } : {}),
      ...(security.tls ? { tls: security.tls } : {}),
      ...(security.insecure ? { insecure: true } : {}),
      ...(encryptionAtRest ? { encryptionAtRest } : {}),
    });
  } catch (err) {
    return reportError(err);
  }
  // Listen for the stop signal BEFORE printing the ready line: a supervisor may signal the moment it reads it.
  const stopRequested = untilStopSignal();
  process.stdout.write(`parley server ${id} listening on ${server.address} (services: $kv, $raft, $cluster)\n`);
  const stopWatch = watchQuorum(
    {
      id,
      leader: () => server.member.leader,
      voters: () => server.member.confState.voters,
      connected: () => server.node.nodes().flatMap((n) => (n.connected && n.id !== id ? [n.id] : [])),
      addressOf: (member) => peers[member] ?? null,
    },
    (line) => process.stdout.write(`${line}\n`),
  );
  const removed = server.whenRemoved.then((err) => err);
  const outcome = await Promise.race([stopRequested, removed]);
  stopWatch();
  await server.stop();
  if (typeof outcome !== 'string') {
    process.stderr.write(`parley server ${id}: ${outcome.message}\n`);
    return 1;
  }
  process.stdout.write(`parley server ${id} stopped\n`);
  return 0;
}
