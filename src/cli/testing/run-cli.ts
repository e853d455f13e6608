import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The parley command's entry in this same build (dist/src/cli/bin.js): the tests run the code just compiled. */
export const PARLEY_BIN = fileURLToPath(new URL('../bin.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a CLI under test: the developer's own PARLEY_* settings removed, so a test
 * sees only the settings it passes in `extra`.
 */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PARLEY_') && v !== undefined) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Runs `parley <args>` to completion (for CLI tests); SIGKILLs it and rejects after `timeoutMs`.
 * `env` adds variables to a clean environment (see cliEnv); `cwd` is where it runs (a config file's folder).
 */
export function runCli(
  args: string[],
  timeoutMs = 20_000,
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cliEnv(options.env),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parley ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
