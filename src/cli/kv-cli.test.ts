import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { PARLEY_BIN, runCli } from './testing/run-cli.js';

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
    ['cluster', 'status', '--wat'],
  ]) {
    it(`parley ${args.join(' ')} exits 2 with the usage`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /usage: parley/);
    });
  }
});
