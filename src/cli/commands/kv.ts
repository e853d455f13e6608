import type { KvClient } from '../../cluster/client/kv-client.js';
import { intFlag, jsonArg, parseCommandArgs } from '../args.js';
import { reportError, toJson } from '../output.js';
import { CLIENT_SECURITY_HELP } from '../security-flags.js';
import { untilStopSignal } from '../stop-signals.js';
import { UsageError } from '../usage-error.js';
import { runKvAuth } from './kv-auth.js';
import { CLIENT_FLAGS, clientFromFlags, readable, utf8 } from './kv-cli-client.js';

export const KV_USAGE = `usage: parley kv <get|put|del|range|watch|txn|lease|auth|user|role> ... --servers host:port,... [--timeout ms] [--json]

  kv put KEY VALUE [--lease ID]           prints the revision
  kv get KEY [--serializable] [--revision R]   prints the value (NOT_FOUND, exit 1, if absent)
  kv del KEY [--prefix]                   prints the number of deleted keys
  kv range [PREFIX] [--from K] [--to K] [--limit N]   prints 'key value' lines
  kv watch KEY [--prefix] [--start-revision R]    one JSON line per event until Ctrl-C
  kv txn JSON                             {"compare":[...],"success":[...],"failure":[...]}
  kv lease grant TTL_MS | revoke ID | ttl ID | keepalive ID
  kv auth enable | disable | status       KV roles (parley kv auth --help)
  kv user add|rm|get|ls|grant|revoke ...  users: principal names and their roles
  kv role add|rm|get|ls|grant|revoke ...  roles: read/write permissions on keys, ranges, prefixes

  --servers host:port,...  cluster members (required; or PARLEY_SERVERS)
  --timeout ms             budget of each operation, retries included (default 10000)
  --json                   print full results as one JSON line

${CLIENT_SECURITY_HELP}`;

const FLAGS = {
  ...CLIENT_FLAGS,
  lease: { type: 'string' },
  serializable: { type: 'boolean' },
  revision: { type: 'string' },
  prefix: { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
  'start-revision': { type: 'string' },
} as const;

const ARITY: Record<string, [number, number]> = {
  get: [1, 1],
  put: [2, 2],
  del: [1, 1],
  range: [0, 1],
  watch: [1, 1],
  txn: [1, 1],
  lease: [2, 2],
};

export async function runKv(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'auth' || argv[0] === 'user' || argv[0] === 'role') return runKvAuth(argv);
  const { positionals, flags } = parseCommandArgs(argv, FLAGS, KV_USAGE, { min: 0, max: 3 });
  if (flags.help) {
    process.stdout.write(`${KV_USAGE}\n`);
    return 0;
  }
  const [sub, ...args] = positionals;
  const arity = sub === undefined ? undefined : ARITY[sub];
  if (arity === undefined) throw new UsageError(`unknown or missing subcommand '${sub ?? ''}'`, KV_USAGE);
  if (args.length < arity[0] || args.length > arity[1]) {
    throw new UsageError(
      `kv ${sub} takes ${arity[0]}${arity[1] > arity[0] ? `-${arity[1]}` : ''} argument(s)`,
      KV_USAGE,
    );
  }
  const num = (name: string, min = 0) => intFlag(flags[name], name, KV_USAGE, min, Number.MAX_SAFE_INTEGER);
  const txn = sub === 'txn' ? jsonArg(args[0], 'txn', KV_USAGE) : undefined;
  if (sub === 'lease' && !['grant', 'revoke', 'ttl', 'keepalive'].includes(args[0]!)) {
    throw new UsageError('kv lease takes grant TTL_MS | revoke ID | ttl ID | keepalive ID', KV_USAGE);
  }
  const leaseArg = sub === 'lease' ? Number(args[1]) : 0;
  if (sub === 'lease' && (!Number.isSafeInteger(leaseArg) || leaseArg < 1)) {
    throw new UsageError(`expected a positive whole number, got '${args[1]}'`, KV_USAGE);
  }
  const lease = num('lease', 1);
  const revision = num('revision');
  const limit = num('limit');
  const startRevision = num('start-revision', 1);
  const kv = await clientFromFlags(flags, KV_USAGE);
  const json = flags.json === true;
  const print = (full: unknown, short: string) =>
    process.stdout.write(`${json ? toJson(readable(full), false) : short}\n`);
  try {
    switch (sub) {
      case 'put': {
        const r = await kv.put(args[0]!, args[1]!, lease === undefined ? {} : { lease });
        print(r, String(r.revision));
        return 0;
      }
      case 'get': {
        const r = await kv.range(args[0]!, { revision, serializable: flags.serializable === true });
        if (r.kvs.length === 0) {
          if (json) print(r, '');
          else process.stderr.write(`NOT_FOUND: no key '${args[0]}'\n`);
          return 1;
        }
        print(r, utf8(r.kvs[0]!.value));
        return 0;
      }
      case 'del': {
        const r = await kv.delete(flags.prefix === true ? { prefix: args[0]! } : args[0]!);
        print(r, String(r.deleted));
        return 0;
      }
      case 'range': {
        const range =
          flags.from !== undefined
            ? { from: flags.from as string, ...(flags.to === undefined ? {} : { to: flags.to as string }) }
            : { prefix: args[0] ?? '' };
        const r = await kv.range(range, { limit, revision, serializable: flags.serializable === true });
        print(r, r.kvs.map((k) => `${utf8(k.key)} ${utf8(k.value)}`).join('\n'));
        return 0;
      }
      case 'txn': {
        const r = await kv.txn(txn as Parameters<KvClient['txn']>[0]);
        print(r, toJson(readable(r), false));
        return 0;
      }
      case 'watch':
        return await watch(kv, args[0]!, flags.prefix === true, startRevision);
      case 'lease':
        return await leaseCommand(kv, args[0]!, leaseArg, print);
    }
    return 2;
  } catch (err) {
    return reportError(err);
  } finally {
    await kv.close();
  }
}

async function watch(kv: KvClient, key: string, prefix: boolean, startRevision: number | undefined): Promise<number> {
  const w = kv.watch(prefix ? { prefix: key } : key, startRevision === undefined ? {} : { startRevision });
  w.on((events) => {
    for (const e of events) {
      const line = { type: e.type, key: utf8(e.kv.key), value: utf8(e.kv.value), revision: e.kv.modRevision };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  });
  // Tell the user (on stderr, so stdout stays one JSON line per event) when the watch is live.
  void w.ready.then(() =>
    process.stderr.write(
      `watching ${prefix ? `prefix '${key}'` : `'${key}'`} from revision ${w.revision + 1} (Ctrl-C to stop)\n`,
    ),
  );
  const reason = await Promise.race([untilStopSignal(), w.closed.then((err) => err)]);
  w.cancel();
  if (reason !== null && typeof reason === 'object') return reportError(reason);
  return 0;
}

async function leaseCommand(
  kv: KvClient,
  op: string,
  n: number,
  print: (full: unknown, short: string) => void,
): Promise<number> {
  switch (op) {
    case 'grant': {
      const r = await kv.lease.grant(n);
      print(r, String(r.id));
      return 0;
    }
    case 'revoke':
      await kv.lease.revoke(n); // NOT_FOUND for a lease that does not exist
      print({ revoked: n }, 'revoked');
      return 0;
    case 'ttl': {
      const r = await kv.lease.timeToLive(n, { keys: true });
      print(r, `lease ${r.id}: ttl ${r.ttlMs} ms, ${r.remainingMs} ms left, ${r.keys?.length ?? 0} key(s)`);
      return 0;
    }
    default: {
      const info = await kv.lease.timeToLive(n); // NOT_FOUND for a lease that does not exist
      const keeper = kv.lease.keepAlive(n);
      const stopRequested = untilStopSignal(); // before the line below: a supervisor may signal on reading it
      process.stderr.write(
        `keeping lease ${n} (TTL ${info.ttlMs} ms) alive until Ctrl-C; after that it expires within ${info.ttlMs} ms\n`,
      );
      const reason = await Promise.race([stopRequested, keeper.lost]);
      keeper.stop();
      if (typeof reason === 'object') return reportError(reason);
      return 0;
    }
  }
}
