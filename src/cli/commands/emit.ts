import { jsonArg, parseCommandArgs, seedsFlag } from '../args.js';
import { joinMesh } from '../mesh-client.js';
import { reportError } from '../output.js';
import { CLIENT_SECURITY_FLAGS, CLIENT_SECURITY_HELP, securityFromFlags } from '../security-flags.js';
import { UsageError } from '../usage-error.js';

const usage = (
  verb: 'emit' | 'broadcast',
) => `usage: parley ${verb} <event> [json-payload] --seed host:port [--meta json]

${
  verb === 'emit'
    ? 'Emits an event: exactly one handler per subscribed group receives it.'
    : 'Broadcasts an event: every matching handler on every node receives it.'
}

  --seed host:port  a node of the mesh (required; repeatable; or PARLEY_SEED)
  --meta json       event metadata, a JSON object

${CLIENT_SECURITY_HELP}`;

export const EMIT_USAGE = usage('emit');
export const BROADCAST_USAGE = usage('broadcast');

export async function runEmit(argv: readonly string[], verb: 'emit' | 'broadcast'): Promise<number> {
  const text = usage(verb);
  const { positionals, flags } = parseCommandArgs(
    argv,
    { seed: { type: 'string', multiple: true }, meta: { type: 'string' }, ...CLIENT_SECURITY_FLAGS },
    text,
    { min: 1, max: 2 },
  );
  if (flags.help) {
    process.stdout.write(`${text}\n`);
    return 0;
  }
  const [event, payloadText] = positionals as [string, string | undefined];
  if (event.includes('*')) throw new UsageError('event names cannot contain wildcards', text);
  const payload = jsonArg(payloadText, 'payload', text);
  const meta = jsonArg(flags.meta as string | undefined, '--meta', text);
  const seeds = seedsFlag(flags.seed, text);
  if (seeds.length === 0)
    throw new UsageError('--seed is required (or PARLEY_SEED, or "seed" in parley.config.json)', text);
  const security = securityFromFlags(flags, text);
  let node: Awaited<ReturnType<typeof joinMesh>> | undefined;
  try {
    node = await joinMesh(seeds, 3000, security);
    const options = meta ? { meta: meta as Record<string, unknown> } : {};
    if (verb === 'emit') await node.emit(event, payload, options);
    else await node.broadcast(event, payload, options);
    process.stdout.write(`${verb === 'emit' ? 'emitted' : 'broadcast'} '${event}'\n`);
    return 0;
  } catch (err) {
    return reportError(err);
  } finally {
    await node?.stop();
  }
}
