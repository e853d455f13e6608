import type { KvClient } from '../../cluster/client/kv-client.js';
import type { KvPermissionRange } from '../../cluster/contract.js';
import type { KvPermission, KvPermissionType } from '../../kv/auth/auth-types.js';
import { parseCommandArgs } from '../args.js';
import { reportError, toJson } from '../output.js';
import { formatTable } from '../table.js';
import { UsageError } from '../usage-error.js';
import { CLIENT_FLAGS, clientFromFlags, readable, utf8 } from './kv-cli-client.js';

export const KV_AUTH_USAGE = `usage: parley kv <auth|user|role> ... --servers host:port,... [--json]

  kv auth enable | disable | status       turn KV roles on (needs user root with role root) or off
  kv user add NAME | rm NAME | get NAME | ls
  kv user grant NAME ROLE | revoke NAME ROLE
  kv role add NAME | rm NAME | get NAME | ls
  kv role grant ROLE read|write|readwrite KEY [RANGE_END] [--prefix | --from-key]
  kv role revoke ROLE KEY [RANGE_END] [--prefix | --from-key]

  A user is a principal name (a certificate's CN, a key's or token's subject): no passwords.
  While auth is enabled, only users with the role root may run these commands (except status,
  and get on oneself or one's own roles).
  --prefix     every key starting with KEY      --from-key   every key from KEY on`;

const FLAGS = {
  ...CLIENT_FLAGS,
  prefix: { type: 'boolean' },
  'from-key': { type: 'boolean' },
} as const;

/** sub-op → [min, max] arguments after it. */
const ARITY: Record<string, Record<string, [number, number]>> = {
  auth: { enable: [0, 0], disable: [0, 0], status: [0, 0] },
  user: { add: [1, 1], rm: [1, 1], get: [1, 1], ls: [0, 0], grant: [2, 2], revoke: [2, 2] },
  role: { add: [1, 1], rm: [1, 1], get: [1, 1], ls: [0, 0], grant: [3, 4], revoke: [2, 3] },
};

const TYPES: readonly KvPermissionType[] = ['read', 'write', 'readwrite'];

/** `parley kv auth|user|role …`: KV roles (users, roles and their permissions on key ranges). */
export async function runKvAuth(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(argv, FLAGS, KV_AUTH_USAGE, { min: 0, max: 6 });
  if (flags.help) {
    process.stdout.write(`${KV_AUTH_USAGE}\n`);
    return 0;
  }
  const [group, op, ...args] = positionals as [string, string | undefined, ...string[]];
  const arity = op === undefined ? undefined : ARITY[group]?.[op];
  if (arity === undefined) {
    throw new UsageError(`kv ${group} takes ${Object.keys(ARITY[group] ?? {}).join(' | ')}`, KV_AUTH_USAGE);
  }
  if (args.length < arity[0] || args.length > arity[1]) {
    throw new UsageError(
      `kv ${group} ${op} takes ${arity[0]}${arity[1] > arity[0] ? `-${arity[1]}` : ''} argument(s)`,
      KV_AUTH_USAGE,
    );
  }
  if (group === 'role' && op === 'grant' && !TYPES.includes(args[1] as KvPermissionType)) {
    throw new UsageError(`the permission type must be read, write or readwrite, got '${args[1]}'`, KV_AUTH_USAGE);
  }
  const keys =
    group === 'role' && (op === 'grant' || op === 'revoke')
      ? permissionKeys(
          op === 'grant' ? args.slice(2) : args.slice(1),
          flags.prefix === true,
          flags['from-key'] === true,
        )
      : undefined;
  const kv = await clientFromFlags(flags, KV_AUTH_USAGE);
  const json = flags.json === true;
  const print = (full: unknown, short: string) =>
    process.stdout.write(`${json ? toJson(readable(full), false) : short}\n`);
  try {
    await run(kv, `${group} ${op}`, args, keys, print);
    return 0;
  } catch (err) {
    return reportError(err);
  } finally {
    await kv.close();
  }
}

function permissionKeys(args: readonly string[], prefix: boolean, fromKey: boolean): KvPermissionRange {
  const [key, rangeEnd] = args as [string, string | undefined];
  if ([prefix, fromKey, rangeEnd !== undefined].filter(Boolean).length > 1) {
    throw new UsageError('give one of RANGE_END, --prefix or --from-key', KV_AUTH_USAGE);
  }
  if (prefix) return { prefix: key };
  if (fromKey) return { key, rangeEnd: '\0' };
  return rangeEnd === undefined ? { key } : { key, rangeEnd };
}

async function run(
  kv: KvClient,
  command: string,
  args: readonly string[],
  keys: KvPermissionRange | undefined,
  print: (full: unknown, short: string) => void,
): Promise<void> {
  const [a, b] = args as [string, string];
  const auth = kv.auth;
  const done = (what: string) => (r: { authRevision: number }) => print(r, `${what} (auth revision ${r.authRevision})`);
  switch (command) {
    case 'auth enable':
      return auth.enable().then(done('auth enabled'));
    case 'auth disable':
      return auth.disable().then(done('auth disabled'));
    case 'auth status': {
      const s = await auth.status();
      return print(s, `auth ${s.enabled ? 'enabled' : 'disabled'} (auth revision ${s.authRevision})`);
    }
    case 'user add':
      return auth.user.add(a).then(done(`user ${a} added`));
    case 'user rm':
      return auth.user.delete(a).then(done(`user ${a} deleted`));
    case 'user grant':
      return auth.user.grantRole(a, b).then(done(`role ${b} granted to user ${a}`));
    case 'user revoke':
      return auth.user.revokeRole(a, b).then(done(`role ${b} revoked from user ${a}`));
    case 'user get': {
      const u = await auth.user.get(a);
      return print(u, formatTable(['USER', 'ROLES'], [[u.name, u.roles.join(', ')]]));
    }
    case 'user ls': {
      const names = await auth.user.list();
      const users = await Promise.all(names.map((n) => auth.user.get(n)));
      return print(
        users,
        formatTable(
          ['USER', 'ROLES'],
          users.map((u) => [u.name, u.roles.join(', ')]),
        ),
      );
    }
    case 'role add':
      return auth.role.add(a).then(done(`role ${a} added`));
    case 'role rm':
      return auth.role.delete(a).then(done(`role ${a} deleted`));
    case 'role grant':
      return auth.role
        .grant(a, { type: b as KvPermissionType, ...keys! })
        .then(done(`${b} on ${describeKeys(keys!)} granted to role ${a}`));
    case 'role revoke':
      return auth.role.revoke(a, keys!).then(done(`permission on ${describeKeys(keys!)} revoked from role ${a}`));
    case 'role get': {
      const r = await auth.role.get(a);
      return print(r, permissionTable(r.permissions));
    }
    case 'role ls': {
      const names = await auth.role.list();
      const roles = await Promise.all(names.map((n) => auth.role.get(n)));
      return print(
        roles,
        formatTable(
          ['ROLE', 'PERMISSIONS'],
          roles.map((r) => [r.name, r.permissions.length]),
        ),
      );
    }
  }
}

function describeKeys(k: KvPermissionRange): string {
  if (k.prefix !== undefined) return `prefix '${k.prefix}'`;
  if (k.rangeEnd === '\0') return `every key from '${k.key}'`;
  return k.rangeEnd === undefined ? `key '${k.key}'` : `['${k.key}', '${k.rangeEnd}')`;
}

/** A role's permissions: TYPE and the keys as 'key', prefix 'p', ['a', 'b') or from 'k'. */
export function permissionTable(perms: readonly KvPermission[]): string {
  return formatTable(
    ['TYPE', 'KEYS'],
    perms.map((p) => [p.type, permissionKeysText(p)]),
  );
}

function permissionKeysText(p: KvPermission): string {
  const key = utf8(p.key);
  if (p.rangeEnd === undefined) return `'${key}'`;
  if (p.rangeEnd.length === 1 && p.rangeEnd[0] === 0) return key === '' ? 'every key' : `every key from '${key}'`;
  const end = utf8(p.rangeEnd);
  // A prefix is stored as [p, prefixEnd(p)): show it as the prefix it came from.
  if (
    key.length > 0 &&
    end.length === key.length &&
    end.slice(0, -1) === key.slice(0, -1) &&
    end.charCodeAt(end.length - 1) === key.charCodeAt(key.length - 1) + 1
  ) {
    return `prefix '${key}'`;
  }
  return `['${key}', '${end}')`;
}
