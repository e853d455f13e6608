import { QueueClient } from '../../cluster/client/queue-client.js';
import { ParleyError } from '../../wire/parley-error.js';
import { intFlag, seedsFlag } from '../args.js';
import { createClientNode } from '../client-node.js';
import { securityFromFlags } from '../security-flags.js';
import { UsageError } from '../usage-error.js';

/**
 * The queue client of one `parley stream` / `publish` / `consume` / `dlq` command: a node that does
 * not listen, joins through --servers (or PARLEY_SERVERS) with the security flags, and is stopped
 * when the client closes. It fails fast (UNAVAILABLE with advice) when no server answers, and with
 * the server's refusal when the credentials are refused, as `parley kv` does (kv-cli-client.ts).
 */
export async function queueClientFromFlags(flags: Record<string, unknown>, usage: string): Promise<QueueClient> {
  const servers = seedsFlag(flags.servers, usage);
  if (servers.length === 0)
    throw new UsageError(
      '--servers host:port,... is required (or PARLEY_SERVERS, or "servers" in parley.config.json)',
      usage,
    );
  const timeoutMs = intFlag(flags.timeout, 'timeout', usage, 1, 86_400_000) ?? 10_000;
  const security = securityFromFlags(flags, usage);
  const client = createClientNode({ id: `cli-q-${process.pid}`, seeds: servers, security, gossipInterval: 500 });
  const { node, refused } = client;
  await node.start();
  const queues = new QueueClient(node, { timeoutMs, ownsNode: true });
  let refusal: ParleyError | undefined;
  try {
    refusal = await Promise.race([
      refused,
      node.waitFor('$queue.streams', Math.min(timeoutMs, REACH_TIMEOUT_MS)).then(() => undefined),
    ]);
  } catch {
    await queues.close();
    throw new ParleyError(
      'UNAVAILABLE',
      `cannot reach a stream server at ${servers.join(', ')}; is 'parley server' running there? ` +
        'Check --servers (or PARLEY_SERVERS, or "servers" in parley.config.json)',
    );
  }
  const server = node.nodes().find((n) => n.connected && n.services.some((svc) => svc.name === '$queue'));
  if (!refusal && server)
    refusal = await client.confirm(server.id, REACH_TIMEOUT_MS).then(
      () => undefined,
      (err: ParleyError) => err,
    );
  if (refusal) {
    await queues.close();
    throw refusal;
  }
  return queues;
}

/** How long a command waits for the first server to answer before it gives up. */
const REACH_TIMEOUT_MS = 3000;
