import type { ParleyNode, PeerView } from '../../node/node.js';
import type { NodeStatus } from '../../node/node-service.js';
import { parseCommandArgs, seedsFlag } from '../args.js';
import { joinMesh } from '../mesh-client.js';
import { reportError, toJson } from '../output.js';
import { CLIENT_SECURITY_FLAGS, CLIENT_SECURITY_HELP, securityFromFlags } from '../security-flags.js';
import { formatBytes, formatDuration, formatTable } from '../table.js';
import { UsageError } from '../usage-error.js';

export const STATUS_USAGE = `usage: parley status --seed host:port [--json]

Lists the nodes of the mesh with their services and health.

  --seed host:port  a node of the mesh (required; repeatable; or PARLEY_SEED)
  --json            print JSON instead of a table

${CLIENT_SECURITY_HELP}`;

interface NodeRow {
  id: string;
  address: string | null;
  state: string;
  uptimeMs?: number;
  rssBytes?: number;
  inFlight?: number;
  rttMs?: number;
  services: string[];
  error?: string;
}

export async function runStatus(argv: readonly string[]): Promise<number> {
  const { flags } = parseCommandArgs(
    argv,
    { seed: { type: 'string', multiple: true }, json: { type: 'boolean' }, ...CLIENT_SECURITY_FLAGS },
    STATUS_USAGE,
    {
      min: 0,
      max: 0,
    },
  );
  if (flags.help) {
    process.stdout.write(`${STATUS_USAGE}\n`);
    return 0;
  }
  const seeds = seedsFlag(flags.seed, STATUS_USAGE);
  if (seeds.length === 0)
    throw new UsageError('--seed is required (or PARLEY_SEED, or "seed" in parley.config.json)', STATUS_USAGE);
  const security = securityFromFlags(flags, STATUS_USAGE);
  let node: Awaited<ReturnType<typeof joinMesh>> | undefined;
  try {
    node = await joinMesh(seeds, 3000, security);
    const self = node.id;
    const peers = node.nodes().filter((n) => n.id !== self && n.address !== null);
    const rows: NodeRow[] = await Promise.all(
      peers.map(async (p): Promise<NodeRow> => {
        const services = p.services.map((s) => s.name).filter((n) => n !== '$node');
        try {
          const started = performance.now();
          const info = (await node!.call('$node.info', {}, { nodeId: p.id, timeout: 2000 })) as NodeStatus;
          const rttMs = Math.round((performance.now() - started) * 10) / 10;
          return {
            id: p.id,
            address: p.address,
            state: info.state,
            uptimeMs: info.uptimeMs,
            rssBytes: info.rssBytes,
            inFlight: info.inFlight,
            rttMs,
            services,
          };
        } catch (err) {
          return { id: p.id, address: p.address, state: 'unreachable', services, error: (err as Error).message };
        }
      }),
    );
    rows.push(...(await nodesOnlyOthersSee(node, rows)));
    if (flags.json) {
      process.stdout.write(`${toJson({ nodes: rows })}\n`);
    } else {
      const table = formatTable(
        ['NODE', 'ADDRESS', 'STATE', 'UPTIME', 'RSS', 'IN-FLIGHT', 'RTT', 'SERVICES'],
        rows.map((r) => [
          r.id,
          r.address ?? '-',
          r.state,
          r.uptimeMs === undefined ? '-' : formatDuration(r.uptimeMs),
          r.rssBytes === undefined ? '-' : formatBytes(r.rssBytes),
          r.inFlight ?? '-',
          r.rttMs === undefined ? '-' : `${r.rttMs}ms`,
          r.services.join(', ') || '-',
        ]),
      );
      process.stdout.write(`${table}\n${rows.length} node(s)\n`);
    }
    return rows.some((r) => r.state === 'unreachable') ? 1 : 0;
  } catch (err) {
    return reportError(err);
  } finally {
    await node?.stop();
  }
}

/**
 * Nodes that the answering nodes know but this client never met (a node that accepts connections
 * but does not answer them, for example a stopped process): shown as unreachable instead of hidden.
 */
async function nodesOnlyOthersSee(node: ParleyNode, rows: readonly NodeRow[]): Promise<NodeRow[]> {
  const seen = new Set([node.id, ...rows.map((r) => r.id)]);
  const extra = new Map<string, NodeRow>();
  const views = await Promise.all(
    rows
      .filter((r) => r.state !== 'unreachable')
      .map((r) =>
        node.call('$node.nodes', {}, { nodeId: r.id, timeout: 2000 }).then(
          (list) => ({ from: r.id, peers: list as PeerView[] }),
          () => ({ from: r.id, peers: [] as PeerView[] }),
        ),
      ),
  );
  for (const { from, peers } of views) {
    for (const p of peers) {
      if (seen.has(p.id) || extra.has(p.id) || p.address === null) continue;
      extra.set(p.id, {
        id: p.id,
        address: p.address,
        state: 'unreachable',
        services: p.services.map((s) => s.name).filter((n) => n !== '$node'),
        error: `known to ${from} but not reachable from this client`,
      });
    }
  }
  return [...extra.values()];
}
