import { readFileSync } from 'node:fs';
import { generateNodeKeys, parseSecretKey } from '../../transport/security/node-keys.js';
import { parseCommandArgs } from '../args.js';
import { toJson } from '../output.js';
import { UsageError } from '../usage-error.js';

export const KEYS_USAGE = `usage: parley keys gen [--json]
       parley keys pub <secret-key | -> [--json]

Ed25519 node keys for authentication (NodeOptions.auth).

  gen     make a new key pair: the secret key goes in this node's auth.key (keep it
          secret), the public key in the auth.trust of the nodes that accept it
  pub     print the public key of a secret key ('-' reads the secret key from stdin,
          which keeps it out of the shell history)
  --json  print JSON`;

/** `parley keys gen|pub`: node keys in the readable PARLEY-SK-… / PARLEY-PK-… encoding. */
export async function runKeys(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(argv, { json: { type: 'boolean' } }, KEYS_USAGE, {
    min: 0,
    max: 2,
  });
  if (flags.help) {
    process.stdout.write(`${KEYS_USAGE}\n`);
    return 0;
  }
  const [verb, arg] = positionals;
  if (verb === 'gen') {
    if (arg !== undefined) throw new UsageError(`unexpected argument '${arg}'`, KEYS_USAGE);
    const { secretKey, publicKey } = generateNodeKeys();
    if (flags.json) process.stdout.write(`${toJson({ secretKey, publicKey })}\n`);
    else {
      process.stdout.write(
        `secret key  ${secretKey}\npublic key  ${publicKey}\n\nPut the secret key in this node's auth.key and keep it secret;\nput the public key in auth.trust of the nodes that should accept this one.\n`,
      );
    }
    return 0;
  }
  if (verb === 'pub') {
    if (arg === undefined) throw new UsageError('missing the secret key (or - to read it from stdin)', KEYS_USAGE);
    const text = arg === '-' ? readFileSync(0, 'utf8') : arg;
    const { publicKey } = parseSecretKey(text);
    process.stdout.write(flags.json ? `${toJson({ publicKey })}\n` : `${publicKey}\n`);
    return 0;
  }
  throw new UsageError(
    verb === undefined ? 'missing subcommand: gen or pub' : `unknown subcommand '${verb}'`,
    KEYS_USAGE,
  );
}
