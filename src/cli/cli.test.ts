import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePortBase } from './testing/free-ports.js';
import { PARLEY_BIN, runCli } from './testing/run-cli.js';

const BIN = PARLEY_BIN;
const FIXTURE = fileURLToPath(new URL('./testing/fixture-services.js', import.meta.url));

const run = runCli;

/** Starts a long-running parley process and resolves once a stdout line matches `ready`. */
function start(
  args: string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => reject(new Error(`not ready in time; stderr: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const m = ready.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m, lines });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ready; stderr: ${stderr}`)));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The ports of base..base+count-1 that something listens on. */
async function portsInUse(base: number, count: number): Promise<number[]> {
  const held: number[] = [];
  for (let port = base; port < base + count; port++) {
    const s = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) await new Promise((r) => s.close(r));
    else held.push(port);
  }
  return held;
}

describe('parley node + call/emit/status', () => {
  let server: ChildProcess;
  let seed: string;
  before(async () => {
    const started = await start(['node', FIXTURE, '--id', 'fx', '--log-level', 'warn'], /listening on (\S+)/);
    server = started.child;
    seed = started.match[1]!;
  });
  after(async () => {
    server.kill('SIGTERM');
    assert.equal(await exitOf(server), 0, 'parley node exits 0 after SIGTERM');
  });

  it('call prints the result as JSON', async () => {
    const r = await run(['call', 'fixture.add', '{"a":2,"b":40}', '--seed', seed]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout), 42);
  });

  it('call --json prints one line of compact JSON', async () => {
    const r = await run(['call', 'fixture.add', '{"a":1,"b":1}', '--seed', seed, '--json', '--timeout', '3000']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '2\n');
  });

  it('an unknown action exits 1 with NOT_FOUND on stderr', async () => {
    const r = await run(['call', 'fixture.nope', '--seed', seed]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^NOT_FOUND: .*fixture\.nope/);
  });

  it('a handler error is printed as CODE: message', async () => {
    const r = await run(['call', 'fixture.denied', '--seed', seed]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'PERMISSION_DENIED: not for you');
  });

  it('status --json lists the node and its services', async () => {
    const r = await run(['status', '--seed', seed, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { nodes: { id: string; state: string; services: string[] }[] };
    assert.deepEqual(
      status.nodes.map((n) => [n.id, n.state, n.services]),
      [['fx', 'running', ['fixture']]],
    );
  });

  it('status prints a table', async () => {
    const r = await run(['status', '--seed', seed]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NODE\s+ADDRESS\s+STATE/);
    assert.match(r.stdout, /fx\s+127\.0\.0\.1:\d+\s+running/);
  });

  it('emit and broadcast exit 0', async () => {
    assert.equal((await run(['emit', 'some.event', '{"x":1}', '--seed', seed])).code, 0);
    assert.equal((await run(['broadcast', 'some.event', '--seed', seed])).code, 0);
  });

  it('--advertise is the address the node announces and others dial', async () => {
    const port = (await freePortBase(6)) + 5;
    const advertised = await start(
      [
        'node',
        FIXTURE,
        '--port',
        String(port),
        '--advertise',
        `localhost:${port}`,
        '--id',
        'adv',
        '--log-level',
        'warn',
      ],
      /listening on (\S+) /,
    );
    try {
      assert.equal(advertised.match[1], `localhost:${port}`);
      const status = await run(['status', '--seed', `localhost:${port}`, '--json']);
      const adv = JSON.parse(status.stdout).nodes.find((n: { id: string }) => n.id === 'adv');
      assert.equal(adv?.address, `localhost:${port}`, status.stdout);
    } finally {
      advertised.child.kill('SIGTERM');
    }
    assert.equal(await exitOf(advertised.child), 0);
  });

  it('a broken policy (flag or PARLEY_POLICY) refuses the start: exit 1, the bad field named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-policy-cli-'));
    try {
      const bad = join(dir, 'policy.json');
      writeFileSync(
        bad,
        JSON.stringify({ version: 1, allow: [{ name: 'x', principals: ['*'], call: ['$raft.step'] }] }),
      );
      const byFlag = await run(['node', FIXTURE, '--policy', bad]);
      assert.equal(byFlag.code, 1);
      assert.match(
        byFlag.stderr,
        /^INVALID_ARGUMENT: policy: allow\[0\]\.call\[0\] '\$raft\.step' names an internal service/,
      );
      const byEnv = await run(['server', '--id', 's', '--data', join(dir, 'd'), '--listen', '127.0.0.1:0'], 20_000, {
        env: { PARLEY_POLICY: join(dir, 'missing.json') },
      });
      assert.equal(byEnv.code, 1);
      assert.match(byEnv.stderr, /^INVALID_ARGUMENT: cannot read policy file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreachable seed exits 1 with UNAVAILABLE', async () => {
    const base = await freePortBase(6);
    const r = await run(['call', 'a.b', '--seed', `127.0.0.1:${base}`, '--timeout', '500']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^UNAVAILABLE: cannot reach/);
  });
});

describe('parley status with a node that does not answer', () => {
  it('shows the frozen node as unreachable and exits 1', async () => {
    const first = await start(['node', FIXTURE, '--id', 'fa', '--log-level', 'warn'], /listening on (\S+)/);
    const seed = first.match[1]!;
    const second = await start(
      ['node', FIXTURE, '--id', 'fb', '--seed', seed, '--log-level', 'warn'],
      /listening on (\S+)/,
    ).catch(async (err) => {
      first.child.kill('SIGTERM');
      await exitOf(first.child);
      throw err;
    });
    try {
      // Wait until the seed knows the second node (it joins in the background).
      const deadline = Date.now() + 10_000;
      for (;;) {
        const healthy = await run(['status', '--seed', seed, '--json']);
        assert.equal(healthy.code, 0, healthy.stderr);
        if ((JSON.parse(healthy.stdout) as { nodes: unknown[] }).nodes.length === 2) break;
        assert.ok(Date.now() < deadline, `the mesh never showed both nodes: ${healthy.stdout}`);
      }
      second.child.kill('SIGSTOP'); // its socket still accepts connections, but nothing answers
      const r = await run(['status', '--seed', seed, '--json']);
      assert.equal(r.code, 1);
      const { nodes } = JSON.parse(r.stdout) as { nodes: { id: string; state: string }[] };
      assert.deepEqual(nodes.map((n) => [n.id, n.state]).sort(), [
        ['fa', 'running'],
        ['fb', 'unreachable'],
      ]);
    } finally {
      second.child.kill('SIGCONT');
      second.child.kill('SIGTERM');
      first.child.kill('SIGTERM');
      await Promise.all([exitOf(first.child), exitOf(second.child)]);
    }
  });
});

describe('parley usage errors', () => {
  for (const args of [
    ['frobnicate'],
    ['call'],
    ['call', 'a.b', '{bad', '--seed', 'h:1'],
    ['call', 'a.b', '--seed', 'nope'],
    ['status', '--wat'],
    ['node'],
  ]) {
    it(`parley ${args.join(' ')} exits 2 with a one-line error and the usage`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^parley/);
      assert.match(r.stderr, /usage: parley/);
    });
  }

  it('--version prints the package version and exits 0', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^parley \d+\.\d+\.\d+\n$/);
  });

  it('a TypeScript module that Node.js cannot load fails with a hint', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-ts-'));
    try {
      const file = join(dir, 'services.ts');
      writeFileSync(file, "const s: { name: string } = { name: 'math' };\nexport default s;\n");
      if (Number(process.versions.node.split('.')[0]) >= 23) {
        t.skip(`this Node.js (${process.version}) strips types itself`);
        return;
      }
      const r = await run(['node', file, '--port', '0']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /does not run TypeScript here/);
      assert.match(r.stderr, /npx tsc/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help prints usage and exits 0 for every command', async () => {
    for (const command of [
      'up',
      'node',
      'call',
      'emit',
      'broadcast',
      'status',
      'server',
      'kv',
      'cluster',
      'stream',
      'publish',
      'consume',
      'dlq',
    ]) {
      const r = await run([command, '--help']);
      assert.equal(r.code, 0, command);
      assert.match(r.stdout, new RegExp(`usage: parley ${command}`));
    }
    assert.match((await run(['--help'])).stdout, /Commands:/);
  });
});

describe('parley up', () => {
  it('starts 3 nodes, serves calls and events across them, and exits 0 on SIGINT', async () => {
    const base = await freePortBase(6);
    const up = await start(['up', '--port-base', String(base)], /Press Ctrl-C to stop/);
    try {
      const seed = `127.0.0.1:${base}`;
      // Authentication is on: the printout names the cluster secret, a file only its owner reads.
      const printed = up.lines.find((l) => l.includes('npx parley call math.add \'{"a":1,"b":2}\''));
      assert.ok(printed, up.lines.join('\n'));
      const secretFile = /--secret-file (\S+)$/.exec(printed)?.[1];
      assert.ok(secretFile, printed);
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      const secret = ['--secret-file', secretFile];
      // The KV servers hold the registry: every demo node registered itself there.
      const servers = [0, 1, 2].map((i) => `127.0.0.1:${base + i}`).join(',');
      // (Registration runs in the background after a node is ready, so poll.)
      const registered = (out: string) => ['demo-1', 'demo-2', 'demo-3'].every((id) => out.includes(`nodes/${id} `));
      const regDeadline = Date.now() + 20_000;
      for (;;) {
        const registry = await run(['kv', 'range', '/parley/registry/nodes/', '--servers', servers, ...secret]);
        if (registry.code === 0 && registered(registry.stdout)) break;
        assert.ok(
          Date.now() < regDeadline,
          `demo nodes missing from the registry: ${registry.stdout}${registry.stderr}`,
        );
      }
      // The printed command, run as printed.
      const asPrinted = await run(words(printed.trim()).slice(2));
      assert.equal(asPrinted.code, 0, asPrinted.stderr);
      assert.equal(JSON.parse(asPrinted.stdout), 3);
      // Without the secret, a clear refusal (not a timeout).
      const stranger = await run(['call', 'math.add', '{"a":1,"b":2}', '--seed', seed]);
      assert.equal(stranger.code, 1);
      assert.match(stranger.stderr, /^UNAUTHENTICATED: .*--secret-file/);
      // The export line sets the address and the secret for the commands after it.
      const exported = up.lines.find((l) => l.trim().startsWith('export PARLEY_SEED='));
      assert.ok(exported);
      const env = Object.fromEntries(
        words(exported.trim())
          .slice(1)
          .map((kv) => kv.split('=') as [string, string]),
      );
      const viaEnv = await run(['kv', 'put', 'up/test', 'ok'], 20_000, { env });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      const add = await run(['call', 'math.add', '{"a":1,"b":2}', '--seed', seed, ...secret]);
      assert.equal(JSON.parse(add.stdout), 3);
      const hello = await run(['call', 'greeter.hello', '{"name":"Ada"}', '--seed', seed, ...secret]);
      assert.match(JSON.parse(hello.stdout), /^Hello, Ada!/);
      const order = await run(['call', 'orders.create', '{"item":"pen","qty":3,"price":2}', '--seed', seed, ...secret]);
      const { id } = JSON.parse(order.stdout) as { id: string };
      // The event flow crosses processes: orders (demo-1) -> billing (demo-2) -> notifier (demo-3).
      const deadline = Date.now() + 10_000;
      while (!up.lines.some((l) => l.includes('invoice.issued') && l.includes(id) && l.includes('"total":6'))) {
        assert.ok(Date.now() < deadline, `no invoice event for ${id}; output:\n${up.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(up.lines.some((l) => l.startsWith('[demo-3] event order.created') && l.includes(id)));
      // The printed publish command, run as printed: demo-3's queue consumer handles the message.
      const publishLine = up.lines.find((l) => l.includes(`npx parley publish orders.new '{"id":1}' --servers`));
      assert.ok(publishLine, up.lines.join('\n'));
      const published = await run(words(publishLine.trim()).slice(2));
      assert.equal(published.code, 0, published.stderr);
      assert.match(published.stdout, /^stream orders partition 0 seq \d+\n$/);
      while (
        !up.lines.some(
          (l) => l.startsWith('[demo-3] queue orders.new') && l.includes('handled by fulfilment: {"id":1}'),
        )
      ) {
        assert.ok(Date.now() < deadline, `demo-3 did not handle the message; output:\n${up.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // An event sent by the short-lived CLI client reaches the subscriber before the client leaves.
      const emitted = await run(['broadcast', 'order.noticed', '{"note":"from-cli"}', '--seed', seed, ...secret]);
      assert.equal(emitted.code, 0, emitted.stderr);
      while (!up.lines.some((l) => l.startsWith('[demo-3] event order.noticed') && l.includes('from-cli'))) {
        assert.ok(Date.now() < deadline, `the broadcast did not arrive; output:\n${up.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // The printed commands work where the user is (an installed package has no bin/parley).
      assert.ok(
        up.lines.some((l) => l.includes(`npx parley call math.add '{"a":1,"b":2}' --seed ${seed} --secret-file`)),
      );
      assert.ok(!up.lines.some((l) => l.includes('node bin/parley')));
    } finally {
      // Twice, as a terminal's Ctrl-C plus npm forwarding it would: the second is absorbed silently.
      up.child.kill('SIGINT');
      up.child.kill('SIGINT');
    }
    assert.equal(await exitOf(up.child), 0);
    assert.ok(up.lines.includes('all nodes stopped'));
    assert.ok(!up.lines.some((l) => l.includes('already stopping')), up.lines.join('\n'));
    // Service nodes stop (and deregister) before the servers they registered in.
    const lastNodeStop = Math.max(
      ...[1, 2, 3].map((i) => up.lines.indexOf(`[demo-${i}] parley node demo-${i} stopped`)),
    );
    const firstServerStop = Math.min(
      ...[1, 2, 3].map((i) => up.lines.indexOf(`[kv-${i}] parley server kv-${i} stopped`)),
    );
    assert.ok(lastNodeStop >= 0 && firstServerStop > lastNodeStop, up.lines.join('\n'));
  });

  it('its members exit by themselves when the parley up process is killed with SIGKILL', async () => {
    const base = await freePortBase(6);
    const up = await start(['up', '--port-base', String(base)], /Press Ctrl-C to stop/);
    up.child.kill('SIGKILL');
    await exitOf(up.child);
    // Every member notices that its parent is gone, stops and frees its port.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const held = await portsInUse(base, 6);
      if (held.length === 0) break;
      assert.ok(Date.now() < deadline, `ports still held after the parent died: ${held.join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('--for stops by itself and exits 0', async () => {
    const base = await freePortBase(6);
    const r = await run(['up', '--port-base', String(base), '--for', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Stopping by itself in 1 s/);
    assert.match(r.stdout, /all nodes stopped/);
  });

  it('fails with a clear message when a port is taken', async () => {
    const base = await freePortBase(6);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(base + 1, '127.0.0.1', () => r()));
    try {
      const r = await run(['up', '--port-base', String(base), '--for', '5']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--port-base/);
    } finally {
      blocker.close();
    }
  });
});

/** Splits a printed shell command into words ('single quotes' only, as the printout uses). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}
