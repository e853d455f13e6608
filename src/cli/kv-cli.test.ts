import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { cliEnv, PARLEY_BIN, runCli } from './testing/run-cli.js';

const BIN = PARLEY_BIN;

const run = (args: string[]) => runCli(args, 30_000);

describe('parley server, kv and cluster commands', () => {
  let dir: string;
  let server: ChildProcess;
  let servers: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kvcli-'));
    server = spawn(
      process.execPath,
      [BIN, 'server', '--id', 'solo', '--data', join(dir, 'solo'), '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    servers = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('parley server printed no ready line')), 20_000);
      createInterface({ input: server.stdout! }).on('line', (line) => {
        const m = /^parley server solo listening on (\S+) \(services: \$kv, \$raft, \$cluster\)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
  });

  after(async () => {
    server.kill('SIGTERM');
    const code = await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, 'parley server exits 0 on SIGTERM');
  });

  it('puts, gets, ranges and deletes; a missing key exits 1', async () => {
    const put = await run(['kv', 'put', 'cli/a', 'hello', '--servers', servers]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^\d+\n$/);
    const get = await run(['kv', 'get', 'cli/a', '--servers', servers]);
    assert.equal(get.stdout, 'hello\n');
    const json = await run(['kv', 'get', 'cli/a', '--servers', servers, '--json']);
    assert.equal(JSON.parse(json.stdout).kvs[0].value, 'hello');
    const range = await run(['kv', 'range', 'cli/', '--servers', servers]);
    assert.equal(range.stdout, 'cli/a hello\n');
    const missing = await run(['kv', 'get', 'cli/none', '--servers', servers]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^NOT_FOUND/);
    const del = await run(['kv', 'del', 'cli/a', '--servers', servers]);
    assert.equal(del.stdout, '1\n');
  });

  it('runs a txn and grants a lease', async () => {
    const txn = await run([
      'kv',
      'txn',
      '{"compare":[{"key":"cli/t","target":"version","op":"=","value":0}],"success":[{"type":"put","key":"cli/t","value":"x"}]}',
      '--servers',
      servers,
    ]);
    assert.equal(txn.code, 0, txn.stderr);
    assert.equal(JSON.parse(txn.stdout).succeeded, true);
    const lease = await run(['kv', 'lease', 'grant', '60000', '--servers', servers]);
    assert.match(lease.stdout, /^\d+\n$/);
    const ttl = await run(['kv', 'lease', 'ttl', lease.stdout.trim(), '--servers', servers, '--json']);
    assert.equal(JSON.parse(ttl.stdout).ttlMs, 60000);
  });

  it('shows the cluster as a table and as JSON', async () => {
    const table = await run(['cluster', 'status', '--servers', servers]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+ADDRESS\s+ROLE/);
    assert.match(table.stdout, /solo\s+\S+\s+leader/);
    const json = JSON.parse((await run(['cluster', 'status', '--servers', servers, '--json'])).stdout);
    assert.equal(json.leader, 'solo');
    assert.deepEqual(json.members[0].voters, ['solo']);
  });

  it('kv watch says on stderr when it is live and from which revision, then prints each event', async () => {
    const watch = spawn(process.execPath, [BIN, 'kv', 'watch', 'cli/w', '--servers', servers], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cliEnv(),
    });
    try {
      const start = Number(
        (await lineOf(watch.stderr!, /^watching 'cli\/w' from revision (\d+) \(Ctrl-C to stop\)$/))[1],
      );
      const put = await run(['kv', 'put', 'cli/w', 'v1', '--servers', servers]);
      const event = JSON.parse((await lineOf(watch.stdout!, /^\{.*\}$/))[0]);
      assert.deepEqual(event, { type: 'PUT', key: 'cli/w', value: 'v1', revision: Number(put.stdout) });
      assert.ok(event.revision >= start);
    } finally {
      watch.kill('SIGINT');
    }
    assert.equal(await new Promise((r) => watch.once('exit', r)), 0);
  });

  it('kv lease keepalive says what it does and until when; revoking an unknown lease is NOT_FOUND', async () => {
    const id = (await run(['kv', 'lease', 'grant', '60000', '--servers', servers])).stdout.trim();
    const keeper = spawn(process.execPath, [BIN, 'kv', 'lease', 'keepalive', id, '--servers', servers], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cliEnv(),
    });
    try {
      await lineOf(keeper.stderr!, new RegExp(`^keeping lease ${id} \\(TTL 60000 ms\\) alive until Ctrl-C`));
    } finally {
      keeper.kill('SIGINT');
    }
    assert.equal(await new Promise((r) => keeper.once('exit', r)), 0);
    const unknown = await run(['kv', 'lease', 'revoke', '99999', '--servers', servers]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^NOT_FOUND/);
    assert.doesNotMatch(unknown.stdout, /revoked/);
  });

  it('takes --servers from PARLEY_SERVERS or parley.config.json', async () => {
    const fromEnv = await runCli(['kv', 'put', 'cli/env', 'e'], 30_000, { env: { PARLEY_SERVERS: servers } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    const cwd = mkdtempSync(join(tmpdir(), 'parley-config-'));
    try {
      writeFileSync(join(cwd, 'parley.config.json'), JSON.stringify({ servers: [servers] }));
      const fromFile = await runCli(['kv', 'get', 'cli/env'], 30_000, { cwd });
      assert.equal(fromFile.stdout, 'e\n', fromFile.stderr);
      // A flag wins over the file: this one points nowhere, so the command fails.
      const flagWins = await runCli(['kv', 'get', 'cli/env', '--servers', `127.0.0.1:${await deadPort()}`], 30_000, {
        cwd,
      });
      assert.equal(flagWins.code, 1);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  // Last test on this server: it turns KV roles on, and this CLI has no identity to pass them.
  it('KV roles: users, roles, permissions; auth enable needs root; then an unauthenticated client is refused', async () => {
    const early = await run(['kv', 'auth', 'enable', '--servers', servers]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /^FAILED_PRECONDITION: auth enable needs a user root with the role root/);
    for (const args of [
      ['user', 'add', 'root'],
      ['user', 'grant', 'root', 'root'],
      ['role', 'add', 'r'],
      ['role', 'grant', 'r', 'write', 'logs/', '--from-key'],
      ['role', 'grant', 'r', 'read', 'cfg/', '--prefix'],
    ]) {
      const r = await run(['kv', ...args, '--servers', servers]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\(auth revision \d+\)\n$/);
    }
    const role = await run(['kv', 'role', 'get', 'r', '--servers', servers]);
    assert.match(role.stdout, /write +every key from 'logs\/'\nread +prefix 'cfg\/'\n$/);
    const json = JSON.parse((await run(['kv', 'role', 'get', 'r', '--servers', servers, '--json'])).stdout);
    assert.deepEqual(json.permissions[0], { type: 'write', key: 'logs/', rangeEnd: '\0' });
    const enable = await run(['kv', 'auth', 'enable', '--servers', servers]);
    assert.equal(enable.code, 0, enable.stderr);
    const locked = await run(['kv', 'get', 'cli/env', '--servers', servers]);
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /^UNAUTHENTICATED: KV authentication is enabled; connect with/);
    const status = await run(['kv', 'auth', 'status', '--servers', servers, '--json']);
    assert.equal(JSON.parse(status.stdout).enabled, true, status.stderr);
  });

  for (const args of [
    ['server'],
    ['server', '--id', 'x', '--data', 'd', '--listen', 'nope'],
    ['server', '--id', 'x', '--data', 'd', '--listen', 'h:1', '--peers', 'bad'],
    ['kv'],
    ['kv', 'frob', '--servers', 'h:1'],
    ['kv', 'get', '--servers', 'h:1'],
    ['kv', 'put', 'k', 'v'],
    ['kv', 'txn', '{bad', '--servers', 'h:1'],
    ['kv', 'lease', 'grant', 'soon', '--servers', 'h:1'],
    ['cluster', 'add', 'x', '--servers', 'h:1'],
    ['kv', 'user', 'frob', '--servers', 'h:1'],
    ['kv', 'role', 'grant', 'r', 'execute', 'k', '--servers', 'h:1'],
    ['kv', 'role', 'grant', 'r', 'read', 'a', 'b', '--prefix', '--servers', 'h:1'],
    ['cluster', 'status', '--wat'],
  ]) {
    it(`parley ${args.join(' ')} exits 2 with the usage`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /usage: parley/);
    });
  }
});

describe('parley kv, cluster and server when the cluster is not there', () => {
  it('kv and cluster status fail with UNAVAILABLE and what to check when no server answers', async () => {
    const dead = `127.0.0.1:${await deadPort()}`;
    for (const args of [
      ['kv', 'get', 'k', '--servers', dead],
      ['kv', 'put', 'k', 'v', '--servers', dead],
      ['cluster', 'status', '--servers', dead],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(
        r.stderr,
        /^UNAVAILABLE: cannot reach a KV server at 127\.0\.0\.1:\d+; is 'parley server' running there\?/,
      );
      assert.match(r.stderr, /--servers/);
    }
  });

  it('a server whose peers are not running says it is waiting for a quorum, and whom it misses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-quorum-'));
    const [p2, p3] = [await deadPort(), await deadPort()];
    const server = spawn(
      process.execPath,
      [
        BIN,
        'server',
        '--id',
        'q1',
        '--data',
        join(dir, 'q1'),
        '--listen',
        '127.0.0.1:0',
        '--peers',
        `q2=127.0.0.1:${p2},q3=127.0.0.1:${p3}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv() },
    );
    try {
      const [line] = await lineOf(server.stdout!, /^.*waiting for a quorum.*$/);
      assert.match(line, /^parley server q1: no leader yet, waiting for a quorum \(2 of 3 members\): 1 reachable;/);
      assert.match(line, new RegExp(`start or check q2 at 127\\.0\\.0\\.1:${p2}, q3 at 127\\.0\\.0\\.1:${p3}$`));
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Resolves with the first line of `stream` that matches (20 s at most). */
function lineOf(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    const timer = setTimeout(() => reject(new Error(`no line matched ${pattern}; saw:\n${seen.join('\n')}`)), 20_000);
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      seen.push(line);
      const m = pattern.exec(line);
      if (m) {
        clearTimeout(timer);
        lines.close();
        resolve(m);
      }
    });
  });
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
