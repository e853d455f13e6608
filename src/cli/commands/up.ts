import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { intFlag, parseCommandArgs } from '../args.js';
import { untilStopSignal } from '../stop-signals.js';

export const UP_USAGE = `usage: parley up [--port-base N] [--for seconds]

Starts a local demo cluster: 3 nodes, each its own process, on ports N, N+1, N+2
(default 7401-7403), with example services (math, greeter, orders, billing, notifier)
and an event flow between them. Runs until SIGINT/SIGTERM (or --for seconds), then
stops every node gracefully and exits 0.

  --port-base N   first port (default 7401)
  --for seconds   stop by itself after this long`;

const BIN = fileURLToPath(new URL('../../../../bin/parley', import.meta.url));
const DEMO = (n: number) => fileURLToPath(new URL(`../demo/node-${n}.js`, import.meta.url));

interface DemoNode {
  readonly id: string;
  readonly port: number;
  readonly child: ChildProcess;
  address?: string;
  services?: string;
  exitCode?: number | null;
  readonly exited: Promise<number | null>;
}

export async function runUp(argv: readonly string[]): Promise<number> {
  const { flags } = parseCommandArgs(argv, { 'port-base': { type: 'string' }, for: { type: 'string' } }, UP_USAGE, {
    min: 0,
    max: 0,
  });
  if (flags.help) {
    process.stdout.write(`${UP_USAGE}\n`);
    return 0;
  }
  const base = intFlag(flags['port-base'], 'port-base', UP_USAGE, 1, 65533) ?? 7401;
  const forSeconds = intFlag(flags.for, 'for', UP_USAGE, 1, 31_536_000);
  const seed = `127.0.0.1:${base}`;

  const nodes: DemoNode[] = [];
  let stopping = false;
  const stopSignal = Promise.race([
    untilStopSignal(() => process.stdout.write('already stopping: waiting for the nodes to finish\n')),
    new Promise<string>((resolve) => {
      if (forSeconds !== undefined) setTimeout(() => resolve(`--for ${forSeconds}`), forSeconds * 1000).unref();
    }),
  ]);

  for (let i = 1; i <= 3; i++) {
    const id = `demo-${i}`;
    const port = base + i - 1;
    const args = [BIN, 'node', DEMO(i), '--id', id, '--port', String(port), '--log-level', 'warn'];
    if (i > 1) args.push('--seed', seed);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const node: DemoNode = { id, port, child, exited };
    nodes.push(node);
    exited.then((code) => {
      node.exitCode = code;
      if (!stopping) process.stderr.write(`[${id}] exited unexpectedly (code ${code})\n`);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`[${id}] ${line}\n`));
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = /listening on (\S+) \(services: ([^)]*)\)/.exec(line);
        if (m && !node.address) {
          node.address = m[1];
          node.services = m[2];
          resolve();
        } else process.stdout.write(`[${id}] ${line}\n`);
      });
      exited.then((code) => reject(new Error(`node ${id} exited with code ${code} before it was ready`)));
    });
    try {
      await ready;
    } catch (err) {
      process.stderr.write(
        `parley up: ${(err as Error).message}; if port ${port} is taken, choose other ports with --port-base N\n`,
      );
      stopping = true;
      await stopAll(nodes);
      return 1;
    }
  }

  const lines = [
    '',
    `Parley demo cluster is up: ${nodes.length} nodes`,
    ...nodes.map((n) => `  ${n.id}  ${n.address}  ${n.services}`),
    '',
    `Connect with --seed ${seed}. Try, from this folder:`,
    `  node bin/parley call math.add '{"a":1,"b":2}' --seed ${seed}`,
    `  node bin/parley call greeter.hello '{"name":"Ada"}' --seed ${seed}`,
    `  node bin/parley call orders.create '{"item":"book","qty":2,"price":15}' --seed ${seed}   (then watch the events here)`,
    `  node bin/parley broadcast order.noticed '{"note":"hi"}' --seed ${seed}`,
    `  node bin/parley status --seed ${seed}`,
    '',
    forSeconds === undefined ? 'Press Ctrl-C to stop.' : `Stopping by itself in ${forSeconds} s.`,
    '',
  ];
  process.stdout.write(lines.join('\n'));

  const reason = await Promise.race([
    stopSignal,
    Promise.all(nodes.map((n) => n.exited)).then(() => 'all nodes exited'),
  ]);
  stopping = true;
  process.stdout.write(`\nstopping (${reason})...\n`);
  const codes = await stopAll(nodes);
  const failed = nodes.filter((_, i) => codes[i] !== 0);
  if (failed.length > 0) {
    process.stderr.write(`parley up: ${failed.map((n) => n.id).join(', ')} did not stop cleanly\n`);
    return 1;
  }
  process.stdout.write('all nodes stopped\n');
  return 0;
}

/** SIGTERM every child (each stops gracefully), SIGKILL any still running after 15 s. */
async function stopAll(nodes: DemoNode[]): Promise<(number | null)[]> {
  for (const n of nodes) if (n.exitCode === undefined) n.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const n of nodes) if (n.exitCode === undefined) n.child.kill('SIGKILL');
  }, 15_000);
  const codes = await Promise.all(nodes.map((n) => n.exited));
  clearTimeout(timer);
  return codes;
}
