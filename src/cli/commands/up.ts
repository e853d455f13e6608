import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { permissionProblem } from '../../base/file-permissions.js';
import { connectQueues } from '../../cluster/client/queue-client.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { DEMO_STREAM } from '../demo/node-3.js';
import { KEY_ENV, SECRET_ENV, SETTINGS, TRUST_ENV } from '../settings.js';
import { untilStopSignal } from '../stop-signals.js';

export const UP_USAGE = `usage: parley up [--port-base N] [--for seconds] [--data DIR]

Starts a local demo cluster, each member its own process: 3 KV servers on ports N..N+2
(default 7401-7403) holding the replicated key-value store and the service registry, and
3 demo nodes on N+3..N+5 with example services (math, greeter, orders, billing, notifier)
and an event flow between them; the demo nodes register and discover each other through
the servers. A durable stream 'orders' (subjects orders.>) is created on the servers, and
demo node 3 consumes it (consumer 'fulfilment'), logging each message it handles. Runs until SIGINT/SIGTERM (or --for seconds), then stops every process
gracefully and exits 0.

Authentication is on: the members prove they hold a cluster secret, made at start in
DIR/secret (mode 0600; kept and reused with --data DIR). Commands that connect to the
cluster need it: --secret-file DIR/secret, or PARLEY_SECRET_FILE (the printout says how).

  --port-base N   first port (default 7401)
  --for seconds   stop by itself after this long
  --data DIR      keep the servers' data here (default: a temporary folder, removed on exit)`;

/** The command's entry in this same build (lib/cli/bin.js or dist/src/cli/bin.js): each member is a parley process. */
const BIN = fileURLToPath(new URL('../bin.js', import.meta.url));
const DEMO = (n: number) => fileURLToPath(new URL(`../demo/node-${n}.js`, import.meta.url));

interface Member {
  readonly id: string;
  readonly port: number;
  readonly child: ChildProcess;
  address?: string;
  services?: string;
  exitCode?: number | null;
  readonly exited: Promise<number | null>;
}

export async function runUp(argv: readonly string[]): Promise<number> {
  const { flags } = parseCommandArgs(
    argv,
    { 'port-base': { type: 'string' }, for: { type: 'string' }, data: { type: 'string' } },
    UP_USAGE,
    { min: 0, max: 0 },
  );
  if (flags.help) {
    process.stdout.write(`${UP_USAGE}\n`);
    return 0;
  }
  const base = intFlag(flags['port-base'], 'port-base', UP_USAGE, 1, 65530) ?? 7401;
  const forSeconds = intFlag(flags.for, 'for', UP_USAGE, 1, 31_536_000);
  const keepData = typeof flags.data === 'string';
  const dataDir = keepData ? resolve(flags.data as string) : mkdtempSync(join(tmpdir(), 'parley-up-'));
  mkdirSync(dataDir, { recursive: true });
  // The members get their addresses from the flags below; settings meant for the user's own
  // commands (PARLEY_SEED, ./parley.config.json, ...) must not reach them, hence the environment
  // without PARLEY_* settings and the data folder as working directory.
  const childEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => ![SECRET_ENV, KEY_ENV, TRUST_ENV].includes(k) && !Object.values(SETTINGS).some((s) => s.env === k),
    ),
  );
  const secretFile = clusterSecret(dataDir);
  if (secretFile instanceof Error) {
    process.stderr.write(`parley up: ${secretFile.message}\n`);
    return 2;
  }
  const serverIds = ['kv-1', 'kv-2', 'kv-3'];
  const serverAddrs = serverIds.map((_, i) => `127.0.0.1:${base + i}`);
  const servers = serverAddrs.join(',');
  const peers = serverIds.map((id, i) => `${id}=${serverAddrs[i]}`).join(',');

  const kvServers: Member[] = [];
  const demos: Member[] = [];
  let stopping = false;
  const stopSignal = Promise.race([
    untilStopSignal(), // a repeated Ctrl-C (or npm forwarding it) is absorbed: the stop is already under way
    new Promise<string>((resolve) => {
      if (forSeconds !== undefined) setTimeout(() => resolve(`--for ${forSeconds}`), forSeconds * 1000).unref();
    }),
  ]);
  const cleanup = () => {
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  };

  const launch = async (list: Member[], id: string, port: number, args: string[]): Promise<boolean> => {
    // detached: a process group of its own, so the terminal's Ctrl-C reaches only this process,
    // which stops the service nodes before the servers. The IPC channel closes when this process
    // dies, even by SIGKILL: each member then stops by itself (stop-signals.ts).
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
      cwd: dataDir,
      env: childEnv,
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const m: Member = { id, port, child, exited };
    list.push(m);
    exited.then((code) => {
      m.exitCode = code;
      if (!stopping) process.stderr.write(`[${id}] exited unexpectedly (code ${code})\n`);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`[${id}] ${line}\n`));
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /listening on (\S+) \(services: ([^)]*)\)/.exec(line);
        if (match && !m.address) {
          m.address = match[1];
          m.services = match[2];
          resolve();
        } else process.stdout.write(`[${id}] ${line}\n`);
      });
      exited.then((code) => reject(new Error(`${id} exited with code ${code} before it was ready`)));
    });
    try {
      await ready;
      return true;
    } catch (err) {
      process.stderr.write(
        `parley up: ${(err as Error).message}; if port ${port} is taken, choose other ports with --port-base N\n`,
      );
      return false;
    }
  };
  const abort = async () => {
    stopping = true;
    await stopAll(demos);
    await stopAll(kvServers);
    cleanup();
    return 1;
  };

  for (let i = 0; i < 3; i++) {
    const id = serverIds[i]!;
    const args = ['server', '--id', id, '--data', join(dataDir, id), '--listen', serverAddrs[i]!, '--peers', peers];
    args.push('--secret-file', secretFile);
    if (!(await launch(kvServers, id, base + i, args))) return abort();
  }
  try {
    await createDemoStream(serverAddrs, secretFile);
  } catch (err) {
    process.stderr.write(`parley up: could not create the demo stream: ${(err as Error).message}\n`);
    return abort();
  }
  for (let i = 1; i <= 3; i++) {
    const id = `demo-${i}`;
    const port = base + 2 + i;
    const args = ['node', DEMO(i), '--id', id, '--port', String(port), '--servers', servers, '--log-level', 'warn'];
    args.push('--secret-file', secretFile);
    if (!(await launch(demos, id, port, args))) return abort();
  }

  const seed = serverAddrs[0];
  const lines = [
    '',
    `Parley demo cluster is up: ${kvServers.length} KV servers (the registry) and ${demos.length} service nodes`,
    ...kvServers.map((n) => `  ${n.id}  ${n.address}  ${n.services}`),
    ...demos.map((n) => `  ${n.id}  ${n.address}  ${n.services}`),
    '',
    `Data: ${dataDir}${keepData ? '' : ' (removed on exit; keep it with --data DIR)'}`,
    `Authentication is on: a command needs the cluster secret, ${secretFile}. Try, in another terminal:`,
    `  npx parley call math.add '{"a":1,"b":2}' --seed ${seed} --secret-file ${secretFile}`,
    `  npx parley publish orders.new '{"id":1}' --servers ${servers} --secret-file ${secretFile}`,
    '',
    'Or set the address and the secret once, then:',
    `  export PARLEY_SEED=${seed} PARLEY_SERVERS=${servers} PARLEY_SECRET_FILE=${secretFile}`,
    `  npx parley call greeter.hello '{"name":"Ada"}'`,
    `  npx parley call orders.create '{"item":"book","qty":2,"price":15}'   (then watch the events here)`,
    `  npx parley broadcast order.noticed '{"note":"hi"}'`,
    '  npx parley status',
    '  npx parley kv put greeting hello',
    '  npx parley kv get greeting',
    '  npx parley kv watch greeting          (in another terminal, then put again)',
    '  npx parley kv range /parley/registry/   (the registry: one key per node)',
    '  npx parley cluster status',
    `  npx parley publish orders.new '{"id":2}'   (a durable stream: demo-3's consumer logs it here)`,
    '  npx parley stream info orders',
    '',
    forSeconds === undefined ? 'Press Ctrl-C to stop.' : `Stopping by itself in ${forSeconds} s.`,
    '',
  ];
  process.stdout.write(lines.join('\n'));

  const all = [...kvServers, ...demos];
  const reason = await Promise.race([stopSignal, Promise.all(all.map((n) => n.exited)).then(() => 'all nodes exited')]);
  stopping = true;
  process.stdout.write(`\nstopping (${reason})...\n`);
  // Service nodes first, so they deregister while the servers still run.
  const codes = [...(await stopAll(demos)), ...(await stopAll(kvServers))];
  cleanup();
  const failed = [...demos, ...kvServers].flatMap((n, i) => (codes[i] === 0 ? [] : [`${n.id} (exit ${codes[i]})`]));
  if (failed.length > 0) {
    process.stderr.write(`parley up: ${failed.join(', ')} did not stop cleanly\n`);
    return 1;
  }
  process.stdout.write('all nodes stopped\n');
  return 0;
}

/** The demo's durable stream, created (or found) on the servers with the cluster secret. */
async function createDemoStream(servers: readonly string[], secretFile: string): Promise<void> {
  const queues = await connectQueues({ servers, auth: { secret: readFileSync(secretFile, 'utf8').trim() } });
  try {
    await queues.streams.create({ ...DEMO_STREAM });
  } finally {
    await queues.close();
  }
}

/** SIGTERM every child (each stops gracefully), SIGKILL any still running after 15 s. */
async function stopAll(nodes: Member[]): Promise<(number | null)[]> {
  for (const n of nodes) if (n.exitCode === undefined) n.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const n of nodes) if (n.exitCode === undefined) n.child.kill('SIGKILL');
  }, 15_000);
  const codes = await Promise.all(nodes.map((n) => n.exited));
  clearTimeout(timer);
  return codes;
}

/**
 * The demo cluster's secret: DIR/secret, made (mode 0600) when missing, reused when there (a kept
 * --data DIR), refused when other users can read it. Returns its absolute path.
 */
function clusterSecret(dataDir: string): string | Error {
  const file = join(dataDir, 'secret');
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return file;
  }
  const problem = permissionProblem(file);
  return problem === undefined ? file : new Error(`${file} ${problem}; run 'chmod 600 ${file}'`);
}
