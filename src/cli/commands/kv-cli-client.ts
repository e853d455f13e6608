import { KvClient } from '../../cluster/client/kv-client.js';
import { ParleyError } from '../../wire/parley-error.js';
import { intFlag, seedsFlag } from '../args.js';
import { createClientNode } from '../client-node.js';
import { CLIENT_SECURITY_FLAGS, securityFromFlags } from '../security-flags.js';
import { UsageError } from '../usage-error.js';

/** The flags every `parley kv` / `parley cluster` subcommand shares. */
export const CLIENT_FLAGS = {
  servers: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  ...CLIENT_SECURITY_FLAGS,
} as const;

export async function clientFromFlags(flags: Record<string, unknown>, usage: string): Promise<KvClient> {
  const servers = seedsFlag(flags.servers, usage);
  if (servers.length === 0)
    throw new UsageError(
      '--servers host:port,... is required (or PARLEY_SERVERS, or "servers" in parley.config.json)',
      usage,
    );
  const timeoutMs = intFlag(flags.timeout, 'timeout', usage, 1, 86_400_000) ?? 10_000;
  const security = securityFromFlags(flags, usage);
  // connectKv's node, built here to learn why a server refused this command's credentials.
  const client = createClientNode({
    id: `cli-kv-${process.pid}`,
    seeds: servers,
    security,
    gossipInterval: 500,
  });
  const { node, refused } = client;
  await node.start();
  const kv = new KvClient(node, { timeoutMs, ownsNode: true });
  let refusal: ParleyError | undefined;
  try {
    // Fail as fast as `parley call` does when nothing answers, instead of spending the whole budget.
    refusal = await Promise.race([
      refused,
      node.waitFor('$kv.range', Math.min(timeoutMs, REACH_TIMEOUT_MS)).then(() => undefined),
    ]);
  } catch {
    await kv.close();
    throw new ParleyError(
      'UNAVAILABLE',
      `cannot reach a KV server at ${servers.join(', ')}; is 'parley server' running there? ` +
        'Check --servers (or PARLEY_SERVERS, or "servers" in parley.config.json)',
    );
  }
  // A server that refused this client's credentials may have let it in for a moment: make sure.
  const server = node.nodes().find((n) => n.connected && n.services.some((svc) => svc.name === '$kv'));
  if (!refusal && server)
    refusal = await client.confirm(server.id, REACH_TIMEOUT_MS).then(
      () => undefined,
      (err: ParleyError) => err,
    );
  if (refusal) {
    await kv.close();
    throw refusal;
  }
  return kv;
}

/** How long a command waits for the first KV server to answer before it gives up. */
const REACH_TIMEOUT_MS = 3000;

export const utf8 = (b: Uint8Array | undefined): string => (b === undefined ? '' : Buffer.from(b).toString('utf8'));

/** Keys and values as UTF-8 strings, for printing. */
export function readable(value: unknown): unknown {
  if (value instanceof Uint8Array) return utf8(value);
  if (Array.isArray(value)) return value.map(readable);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, readable(v)]));
  }
  return value;
}
