/**
 * Encryption at rest from the command line, each command its own process: `parley keys gen
 * --data-key` makes a key line, `parley server --data-key-file` seals the member's data directory
 * (a planted value never reaches the disk), refuses a key file other users can read, and a data
 * directory restarted without its key, or written in the clear, is refused saying what to do.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { cliEnv, PARLEY_BIN, runCli } from './testing/run-cli.js';

const VALUE = 'PLANTED-CLI-AT-REST-VALUE';

interface Started {
  readonly child: ChildProcess;
  readonly address: string;
}

/** Starts `parley server ...`; resolves with the address of its ready line. */
function startServer(args: string[]): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PARLEY_BIN, 'server', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cliEnv(),
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => reject(new Error(`not ready in time; stderr: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, address: m[1]! });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ready; stderr: ${stderr}`)));
  });
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null) return;
  s.child.kill('SIGTERM');
  await new Promise((r) => s.child.once('exit', r));
}

function diskBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
}

describe('parley CLI encryption at rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-datakey-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };

  it('keys gen --data-key prints ID:BASE64KEY, a 32-byte key; the id is checked', async () => {
    const r = await runCli(['keys', 'gen', '--data-key', '--id', '3']);
    assert.equal(r.code, 0, r.stderr);
    const m = /^3:([A-Za-z0-9+/]{43}=)\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(Buffer.from(m[1]!, 'base64').length, 32);
    const other = await runCli(['keys', 'gen', '--data-key']);
    assert.match(other.stdout, /^1:/);
    assert.notEqual(other.stdout.slice(2), r.stdout.slice(2), 'every key is new');
    assert.equal((await runCli(['keys', 'gen', '--data-key', '--id', '256'])).code, 2);
  });

  it('refuses a key file other users can read, a malformed one, and --data-key-migrate alone', async () => {
    const line = (await runCli(['keys', 'gen', '--data-key'])).stdout;
    const base = ['--id', 'x', '--data', join(dir, 'x'), '--listen', '127.0.0.1:0'];
    const open = await runCli(['server', ...base, '--data-key-file', file('open.keys', line, 0o644)]);
    assert.equal(open.code, 2);
    assert.match(open.stderr, /--data-key-file \S+open\.keys is open to every user \(mode 0644\); .*chmod 600/);
    const bad = await runCli(['server', ...base, '--data-key-file', file('bad.keys', '1:short\n')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /key 1 is \d+ bytes, expected 32/);
    const alone = await runCli(['server', ...base, '--data-key-migrate']);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--data-key-migrate needs --data-key-file/);
  });

  it('server --data-key-file keeps a put value off the disk; restarting without the key, or a clear store with it, is refused', async () => {
    const keys = file('member.keys', (await runCli(['keys', 'gen', '--data-key'])).stdout);
    const data = join(dir, 'sealed');
    const args = ['--id', 's1', '--data', data, '--listen', '127.0.0.1:0'];
    const server = await startServer([...args, '--data-key-file', keys]);
    try {
      const put = await runCli(['kv', 'put', 'cli/at-rest', VALUE, '--servers', server.address], 30_000);
      assert.equal(put.code, 0, put.stderr);
      const got = await runCli(['kv', 'get', 'cli/at-rest', '--servers', server.address], 30_000);
      assert.match(got.stdout, new RegExp(VALUE));
    } finally {
      await stop(server);
    }
    assert.equal(diskBytes(data).includes(VALUE), false);
    const without = await runCli(['server', ...args]);
    assert.equal(without.code, 1);
    assert.match(without.stderr, /^FAILED_PRECONDITION: .*data key 1.*--data-key-file/);

    const clearData = join(dir, 'clear');
    const clearArgs = ['--id', 's1', '--data', clearData, '--listen', '127.0.0.1:0'];
    await stop(await startServer(clearArgs));
    const refused = await runCli(['server', ...clearArgs, '--data-key-file', keys]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /written without encryption.*--data-key-migrate/);
    await stop(await startServer([...clearArgs, '--data-key-file', keys, '--data-key-migrate']));
  });
});
