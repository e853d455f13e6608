import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRegisteredNode } from '../../cluster/registry/registry-discovery.js';
import { isLoopbackHost } from '../../node/listen-security.js';
import { createNode } from '../../node/node.js';
import type { ServiceDefinition } from '../../node/service.js';
import { intFlag, parseCommandArgs, seedsFlag } from '../args.js';
import { reportError } from '../output.js';
import {
  checkIdentity,
  checkListenExposure,
  LISTENER_SECURITY_FLAGS,
  LISTENER_SECURITY_HELP,
  securityFromFlags,
} from '../security-flags.js';
import { untilStopSignal } from '../stop-signals.js';
import { UsageError } from '../usage-error.js';

export const NODE_USAGE = `usage: parley node <module> [--port N] [--host H] [--advertise host:port] [--seed host:port]... [--servers host:port,...] [--id ID]
                   [--policy FILE] [--log-level L] [--insecure]

Runs the services a JavaScript module exports (default export: one service definition or an array)
on a new node, until SIGINT or SIGTERM, then stops gracefully.

  --port N        port to listen on (default 0: any free port)
  --host H        host to listen on (default 127.0.0.1)
  --advertise host:port  the address other nodes dial, when not the listen address
                  (e.g. --host 0.0.0.0 --advertise 10.0.0.5:7410)
  --seed host:port  a node to join through (repeatable, or comma-separated)
  --servers host:port,...  KV cluster members: register in and discover through the registry
                  (replaces --seed peer-to-peer discovery)
  --id ID         node id (default: the name --trust gives --key, or the --mtls certificate's
                  name, or hostname-pid-random)
  --policy FILE   authorization policy (JSON, re-read every second; docs/SECURITY.md): who may call,
                  emit and receive what on this node
  --log-level L   debug | info | warn | error | silent (default info)

--seed, --servers, --host, --advertise, --policy and --log-level may also come from PARLEY_* variables or
./parley.config.json (see parley --help).

${LISTENER_SECURITY_HELP}`;

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

export async function loadServices(modulePath: string): Promise<ServiceDefinition[]> {
  const url = pathToFileURL(resolve(process.cwd(), modulePath)).href;
  let mod: { default?: unknown };
  try {
    mod = await import(url);
  } catch (err) {
    throw new UsageError(
      `cannot load module '${modulePath}': ${(err as Error).message}${typeScriptHint(modulePath, err)}`,
      NODE_USAGE,
    );
  }
  const exported = mod.default;
  const list = Array.isArray(exported) ? exported : exported === undefined ? [] : [exported];
  const services = list.filter(
    (s): s is ServiceDefinition =>
      typeof s === 'object' && s !== null && typeof (s as ServiceDefinition).name === 'string',
  );
  if (services.length === 0 || services.length !== list.length) {
    throw new UsageError(
      `module '${modulePath}' must default-export a service definition ({ name, actions, events }) or an array of them`,
      NODE_USAGE,
    );
  }
  return services;
}

/**
 * Node.js runs TypeScript only with type stripping (22.6+ behind --experimental-strip-types, on by
 * default from 23.6). When a .ts module fails to load for that reason, say how to run it.
 */
function typeScriptHint(modulePath: string, err: unknown): string {
  if (!/\.[mc]?ts$/.test(modulePath)) return '';
  const code = (err as { code?: string }).code;
  if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' && code !== 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING') return '';
  return (
    `\nNode.js ${process.version} does not run TypeScript here. Compile it first (npx tsc, then ` +
    `'parley node ${modulePath.replace(/\.([mc]?)ts$/, '.$1js')}'), or run the command through a loader: ` +
    `'npx tsx node_modules/.bin/parley node ${modulePath}', or on Node.js 22.6+ ` +
    `'node --experimental-strip-types node_modules/.bin/parley node ${modulePath}'`
  );
}

export async function runNode(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      advertise: { type: 'string' },
      seed: { type: 'string', multiple: true },
      servers: { type: 'string', multiple: true },
      id: { type: 'string' },
      policy: { type: 'string' },
      'log-level': { type: 'string' },
      ...LISTENER_SECURITY_FLAGS,
    },
    NODE_USAGE,
    { min: 1, max: 1 },
  );
  if (flags.help) {
    process.stdout.write(`${NODE_USAGE}\n`);
    return 0;
  }
  const level = (flags['log-level'] as string | undefined) ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level))
    throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`, NODE_USAGE);
  // The credentials and the exposure first: they decide whether this node may start at all.
  const host = (flags.host as string | undefined) ?? '127.0.0.1';
  const security = securityFromFlags(flags, NODE_USAGE);
  if (flags.id) checkIdentity(flags.id as string, security, NODE_USAGE);
  checkListenExposure(host, security, `--host ${host}`, NODE_USAGE, isLoopbackHost);
  const id = (flags.id as string | undefined) ?? security.identity;
  const services = await loadServices(positionals[0]!);
  const servers = seedsFlag(flags.servers, NODE_USAGE);
  const advertise = flags.advertise as string | undefined;
  if (advertise !== undefined && !/^(\[[^\]]+\]|[^\s:]+):\d{1,5}$/.test(advertise)) {
    throw new UsageError(`--advertise expects host:port, got '${advertise}'`, NODE_USAGE);
  }
  const base = {
    ...(id ? { id } : {}),
    host,
    ...(security.auth ? { auth: security.auth } : {}),
    ...(security.tls ? { tls: security.tls } : {}),
    ...(security.insecure ? { insecure: true } : {}),
    ...(advertise ? { advertise } : {}),
    port: intFlag(flags.port, 'port', NODE_USAGE, 0, 65535) ?? 0,
    logger: level as (typeof LEVELS)[number],
    ...(flags.policy ? { policy: flags.policy as string } : {}),
  };
  const seeds = servers.length > 0 ? [] : seedsFlag(flags.seed, NODE_USAGE);
  let node: ReturnType<typeof createNode>;
  try {
    // An invalid policy refuses the node here (INVALID_ARGUMENT naming the field).
    node = servers.length > 0 ? createRegisteredNode({ ...base, servers }).node : createNode({ ...base, seeds });
  } catch (err) {
    return reportError(err);
  }
  for (const s of services) node.addService(s);
  try {
    await node.start();
  } catch (err) {
    return reportError(err);
  }
  // Listen for the stop signal BEFORE printing the ready line: a supervisor may signal the moment it reads it.
  const stopRequested = untilStopSignal();
  process.stdout.write(
    `parley node ${node.id} listening on ${node.address} (services: ${services.map((s) => s.name).join(', ')})\n`,
  );
  await stopRequested;
  await node.stop();
  process.stdout.write(`parley node ${node.id} stopped\n`);
  return 0;
}
