import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./fixture-node.js', import.meta.url));

export interface NodeProcess {
  readonly id: string;
  readonly address: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

/** Spawns a fixture node process and resolves when it prints its address. */
export function spawnNode(config: {
  id: string;
  seeds?: string[];
  group?: string;
  failureTimeout?: number;
}): Promise<NodeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${config.id} not ready in 15 s; stderr: ${stderr}`));
    }, 15_000);
    exited.then((code) => reject(new Error(`${config.id} exited with ${code} before it was ready; stderr: ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ id: config.id, address: (JSON.parse(line) as { ready: string }).ready, child, exited });
    });
  });
}

export function killAll(nodes: NodeProcess[]): void {
  for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
}

export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
