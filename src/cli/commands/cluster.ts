import type { MemberStatus } from '../../cluster/contract.js';
import { parseCommandArgs } from '../args.js';
import { reportError, toJson } from '../output.js';
import { CLIENT_SECURITY_HELP } from '../security-flags.js';
import { formatTable } from '../table.js';
import { UsageError } from '../usage-error.js';
import { CLIENT_FLAGS, clientFromFlags } from './kv-cli-client.js';

export const CLUSTER_USAGE = `usage: parley cluster <status|add|remove> ... --servers host:port,... [--timeout ms] [--json]

  cluster status               one row per member: id, address, role, term, commit, applied, leader
  cluster add ID host:port     add a voter (then start it: parley server --id ID ... --join)
  cluster remove ID            remove a member

  --servers host:port,...  cluster members (required; or PARLEY_SERVERS)
  --json                   print JSON instead of a table

Exit code 1 when no member answers, or (status) when any member is unreachable.

${CLIENT_SECURITY_HELP}`;

export async function runCluster(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(argv, CLIENT_FLAGS, CLUSTER_USAGE, { min: 0, max: 3 });
  if (flags.help) {
    process.stdout.write(`${CLUSTER_USAGE}\n`);
    return 0;
  }
  const [sub, ...args] = positionals;
  const want = { status: 0, add: 2, remove: 1 }[sub as string];
  if (want === undefined) throw new UsageError(`unknown or missing subcommand '${sub ?? ''}'`, CLUSTER_USAGE);
  if (args.length !== want) throw new UsageError(`cluster ${sub} takes ${want} argument(s)`, CLUSTER_USAGE);
  if (sub === 'add' && !/^(\[[^\]]+\]|[^\s:]+):\d{1,5}$/.test(args[1]!)) {
    throw new UsageError(`expected host:port, got '${args[1]}'`, CLUSTER_USAGE);
  }
  const kv = await clientFromFlags(flags, CLUSTER_USAGE);
  const json = flags.json === true;
  try {
    if (sub === 'add' || sub === 'remove') {
      const r = sub === 'add' ? await kv.cluster.add(args[0]!, args[1]!) : await kv.cluster.remove(args[0]!);
      process.stdout.write(json ? `${toJson(r, false)}\n` : `voters: ${r.voters.join(', ')}\n`);
      return 0;
    }
    const lead = await kv.status();
    const ids = [...new Set([...lead.voters, ...lead.learners])].sort();
    const rows: (MemberStatus | { id: string; error: string })[] = await Promise.all(
      ids.map((id) =>
        id === lead.id
          ? lead
          : kv.cluster.memberStatus(id).catch((err: Error) => ({ id, error: err.message ?? String(err) })),
      ),
    );
    // Like `parley status`: a member that does not answer makes the exit code 1.
    const unreachable = rows.filter((r) => 'error' in r).length;
    const code = unreachable === 0 ? 0 : 1;
    if (json) {
      process.stdout.write(`${toJson({ leader: lead.id, members: rows }, false)}\n`);
      return code;
    }
    const table = formatTable(
      ['ID', 'ADDRESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LEADER'],
      rows.map((r) =>
        'error' in r
          ? [r.id, '-', 'unreachable', '-', '-', '-', '-']
          : [r.id, r.address ?? '-', r.role, r.term, r.commit, r.applied, r.leader ?? '-'],
      ),
    );
    process.stdout.write(`${table}\n`);
    if (unreachable > 0) process.stderr.write(`UNAVAILABLE: ${unreachable} of ${rows.length} member(s) unreachable\n`);
    return code;
  } catch (err) {
    return reportError(err);
  } finally {
    await kv.close();
  }
}
