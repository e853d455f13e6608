import { readFileSync } from 'node:fs';
import { generateDataKeyLine, MAX_DATA_KEY_ID } from '../../raft/wal/data-keyring.js';
import { generateNodeKeys, parseSecretKey } from '../../transport/security/node-keys.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { toJson } from '../output.js';
import { UsageError } from '../usage-error.js';

export const KEYS_USAGE = `usage: parley keys gen [--json]
       parley keys gen --data-key [--id N]
       parley keys pub <secret-key | -> [--json]

Ed25519 node keys for authentication (NodeOptions.auth), and data keys for encryption at rest.

  gen     make a new key pair: the secret key goes in this node's auth.key (keep it
          secret), the public key in the auth.trust of the nodes that accept it
  gen --data-key [--id N]
          print a new random 256-bit data key as the line N:BASE64KEY (default id 1,
          1..255) for 'parley server --data-key-file': append it to the file (chmod 600)
          to rotate, with an id above the others (the highest id is the active key)
  pub     print the public key of a secret key ('-' reads the secret key from stdin,
          which keeps it out of the shell history)
  --json  print JSON`;

/** `parley keys gen|pub`: node keys in the readable PARLEY-SK-… / PARLEY-PK-… encoding. */
export async function runKeys(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(
    argv,
    { json: { type: 'boolean' }, 'data-key': { type: 'boolean' }, id: { type: 'string' } },
    KEYS_USAGE,
    { min: 0, max: 2 },
  );
  if (flags.help) {
    process.stdout.write(`${KEYS_USAGE}\n`);
    return 0;
  }
  const [verb, arg] = positionals;
  if (verb === 'gen') {
    if (arg !== undefined) throw new UsageError(`unexpected argument '${arg}'`, KEYS_USAGE);
    if (flags['data-key'] === true) {
      const id = intFlag(flags.id, 'id', KEYS_USAGE, 1, MAX_DATA_KEY_ID) ?? 1;
      process.stdout.write(`${generateDataKeyLine(id)}\n`);
      return 0;
    }
    if (flags.id !== undefined) throw new UsageError('--id goes with --data-key', KEYS_USAGE);
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
