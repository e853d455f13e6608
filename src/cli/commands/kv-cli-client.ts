import { connectKv, type KvClient } from '../../cluster/client/kv-client.js';
import { intFlag, seedsFlag } from '../args.js';
import { UsageError } from '../usage-error.js';

/** The flags every `parley kv` / `parley cluster` subcommand shares. */
export const CLIENT_FLAGS = {
  servers: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function clientFromFlags(flags: Record<string, unknown>, usage: string): Promise<KvClient> {
  const servers = seedsFlag(flags.servers, usage);
  if (servers.length === 0) throw new UsageError('--servers host:port,... is required', usage);
  const timeoutMs = intFlag(flags.timeout, 'timeout', usage, 1, 86_400_000) ?? 10_000;
  return connectKv({ servers, timeoutMs, id: `cli-kv-${process.pid}` });
}

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
