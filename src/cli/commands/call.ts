import { intFlag, jsonArg, parseCommandArgs, seedsFlag } from '../args.js';
import { joinMesh } from '../mesh-client.js';
import { reportError, toJson } from '../output.js';
import { CLIENT_SECURITY_FLAGS, CLIENT_SECURITY_HELP, securityFromFlags } from '../security-flags.js';
import { UsageError } from '../usage-error.js';

export const CALL_USAGE = `usage: parley call <action> [json-params] --seed host:port [--timeout ms] [--node ID] [--meta json] [--json]

Calls an action somewhere in the mesh and prints its result as JSON. On error prints
CODE: message to stderr and exits 1.

  --seed host:port  a node of the mesh (required; repeatable; or PARLEY_SEED)
  --timeout ms      deadline of the call, and of joining the mesh (default 5000)
  --node ID         call this node, bypassing balancing
  --meta json       call metadata, a JSON object
  --json            print the result as one line of compact JSON (default: indented JSON)

${CLIENT_SECURITY_HELP}`;

export async function runCall(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(
    argv,
    {
      seed: { type: 'string', multiple: true },
      timeout: { type: 'string' },
      node: { type: 'string' },
      meta: { type: 'string' },
      json: { type: 'boolean' },
      ...CLIENT_SECURITY_FLAGS,
    },
    CALL_USAGE,
    { min: 1, max: 2 },
  );
  if (flags.help) {
    process.stdout.write(`${CALL_USAGE}\n`);
    return 0;
  }
  const [action, paramsText] = positionals as [string, string | undefined];
  const params = jsonArg(paramsText, 'params', CALL_USAGE);
  const meta = jsonArg(flags.meta as string | undefined, '--meta', CALL_USAGE);
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
    throw new UsageError('--meta must be a JSON object', CALL_USAGE);
  }
  const seeds = seedsFlag(flags.seed, CALL_USAGE);
  if (seeds.length === 0)
    throw new UsageError('--seed is required (or PARLEY_SEED, or "seed" in parley.config.json)', CALL_USAGE);
  const timeout = intFlag(flags.timeout, 'timeout', CALL_USAGE, 1, 86_400_000) ?? 5000;
  const security = securityFromFlags(flags, CALL_USAGE);
  let node: Awaited<ReturnType<typeof joinMesh>> | undefined;
  try {
    const started = Date.now();
    node = await joinMesh(seeds, Math.min(timeout, 3000), security);
    // The mesh has settled; give a node that is still registering the action a moment more. If nobody
    // offers it by then, the call itself reports NOT_FOUND.
    const waitMs = Math.min(1500, timeout - (Date.now() - started));
    if (waitMs > 0) await node.waitFor(action, waitMs).catch(() => undefined);
    const result = await node.call(action, params, {
      timeout,
      ...(flags.node ? { nodeId: flags.node as string } : {}),
      ...(meta ? { meta: meta as Record<string, unknown> } : {}),
    });
    process.stdout.write(`${toJson(result === undefined ? null : result, !flags.json)}\n`);
    return 0;
  } catch (err) {
    return reportError(err);
  } finally {
    await node?.stop();
  }
}
