import { statSync } from 'node:fs';

/**
 * Whether other users can read a file that holds a secret (a node key, a cluster secret, a data
 * key). Every reader of such a file refuses it when they can, as ssh refuses such a private key:
 * the CLI's security flags, `parley up`, and the server's encryption-at-rest key file.
 */

/** Why other users can read `file`, or undefined (always undefined where modes mean nothing: Windows). */
export function permissionProblem(file: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  return `is open to ${mode & 0o007 ? 'every user' : 'its group'} (mode ${mode.toString(8).padStart(4, '0')})`;
}
