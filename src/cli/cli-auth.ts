import type { AuthOptions } from '../transport/security/auth-options.js';
import { UsageError } from './usage-error.js';

/**
 * Authentication for CLI commands, from the environment only: secrets never go on the command
 * line (where `ps` and the shell history would show them).
 *
 * - PARLEY_SECRET  the cluster secret (every command)
 * - PARLEY_KEY     this node's secret key, PARLEY-SK-… (`parley node`, whose --id must be its trust name)
 * - PARLEY_TRUST   trusted keys, `name=PARLEY-PK-…,name2=PARLEY-PK-…` (`parley node`; for a client,
 *                  the servers it verifies before it presents PARLEY_TOKEN)
 * - PARLEY_TOKEN   a bearer token a client presents
 *
 * Invariant: nothing set → undefined (the command runs as before, unauthenticated); a malformed
 * PARLEY_TRUST is a usage error naming the variable; the values themselves are checked by the node.
 */
export const AUTH_ENV_HELP = `Authentication (from the environment, never flags): PARLEY_SECRET (cluster secret), PARLEY_KEY
(node key, parley node only), PARLEY_TRUST (name=PARLEY-PK-…,… trusted keys), PARLEY_TOKEN (a client's
bearer token). See docs/SECURITY.md.`;

export function authFromEnv(
  role: 'member' | 'client',
  usage: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): AuthOptions | undefined {
  const value = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const secret = value('PARLEY_SECRET');
  const key = role === 'member' ? value('PARLEY_KEY') : undefined;
  const token = role === 'client' ? value('PARLEY_TOKEN') : undefined;
  const trustText = value('PARLEY_TRUST');
  const trust: Record<string, string> = {};
  for (const entry of trustText?.split(',') ?? []) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(entry);
    if (!m) throw new UsageError(`PARLEY_TRUST: expected name=PARLEY-PK-…, got '${entry.trim()}'`, usage);
    trust[m[1]!] = m[2]!;
  }
  if (secret === undefined && key === undefined && token === undefined && trustText === undefined) return undefined;
  return {
    ...(secret === undefined ? {} : { secret }),
    ...(key === undefined ? {} : { key }),
    ...(token === undefined ? {} : { token }),
    ...(trustText === undefined ? {} : { trust }),
  };
}
