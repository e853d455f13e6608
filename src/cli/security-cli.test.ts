/**
 * The security flags end to end, each command its own process: a server or node started with a
 * cluster secret or with node keys serves the clients that hold the credentials and refuses the
 * others with UNAUTHENTICATED (at once, not by timing out); key files open to other users are
 * refused; a listener on a non-loopback host needs authentication or --insecure.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { generateNodeKeys } from '../transport/security/node-keys.js';
import { hasOpenssl, makeTestPki } from '../transport/testing/test-pki.js';
import { cliEnv, PARLEY_BIN, runCli } from './testing/run-cli.js';

const FIXTURE = fileURLToPath(new URL('./testing/fixture-services.js', import.meta.url));
const SECRET = 'the-cluster-secret-of-the-security-cli-test';

interface Started {
  readonly child: ChildProcess;
  readonly address: string;
  readonly stderr: () => string;
}

/** Starts a long-running parley process; resolves with the address of its ready line. */
function start(args: string[]): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv() });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => reject(new Error(`not ready in time; stderr: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, address: m[1]!, stderr: () => stderr });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ready; stderr: ${stderr}`)));
  });
}

async function stop(started: Started | undefined): Promise<void> {
  if (!started || started.child.exitCode !== null) return;
  started.child.kill('SIGTERM');
  await new Promise((r) => started.child.once('exit', r));
}

describe('parley CLI security', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-seccli-'));
  const file = (name: string, text: string, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  const secretFile = file('secret', `${SECRET}\n`);
  const wrongSecret = file('wrong-secret', `${SECRET}-but-another-one\n`);
  const n1 = generateNodeKeys();
  const ops = generateNodeKeys();
  const mallory = generateNodeKeys();
  const trust = file(
    'trust.json',
    JSON.stringify({ n1: n1.publicKey, ops: { publicKey: ops.publicKey, groups: ['admin'] } }),
    0o644,
  );
  const n1Key = file('n1.key', n1.secretKey);
  const opsKey = file('ops.key', `secret key  ${ops.secretKey}\npublic key  ${ops.publicKey}\n`);
  const malloryKey = file('mallory.key', mallory.secretKey);
  const malloryTrust = file('mallory-trust.json', JSON.stringify({ n1: n1.publicKey, mallory: mallory.publicKey }));

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('a KV server started with --secret-file', () => {
    let server: Started | undefined;
    before(async () => {
      server = await start([
        'server',
        '--id',
        's1',
        '--data',
        join(dir, 's1'),
        '--listen',
        '127.0.0.1:0',
        '--secret-file',
        secretFile,
      ]);
    });
    after(() => stop(server));

    it('serves a client with the secret (flag, PARLEY_SECRET_FILE or PARLEY_SECRET)', async () => {
      const put = await runCli([
        'kv',
        'put',
        'sec/a',
        'one',
        '--servers',
        server!.address,
        '--secret-file',
        secretFile,
      ]);
      assert.equal(put.code, 0, put.stderr);
      const viaFileEnv = await runCli(['kv', 'get', 'sec/a', '--servers', server!.address], 20_000, {
        env: { PARLEY_SECRET_FILE: secretFile },
      });
      assert.equal(viaFileEnv.stdout, 'one\n', viaFileEnv.stderr);
      const viaValueEnv = await runCli(['cluster', 'status', '--servers', server!.address, '--json'], 20_000, {
        env: { PARLEY_SECRET: SECRET },
      });
      assert.equal(viaValueEnv.code, 0, viaValueEnv.stderr);
      assert.equal(JSON.parse(viaValueEnv.stdout).leader, 's1');
    });

    it('refuses a client without it, and one with another secret, with UNAUTHENTICATED and what to do', async () => {
      const none = await runCli(['kv', 'get', 'sec/a', '--servers', server!.address]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^UNAUTHENTICATED: .*sent no credentials.*--secret-file FILE/);
      const wrong = await runCli(['kv', 'get', 'sec/a', '--servers', server!.address, '--secret-file', wrongSecret]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^UNAUTHENTICATED: /);
      // What to fix, chosen by the refusal's reason (wrong-secret), whichever side's check concluded first.
      assert.match(wrong.stderr, /another secret than the cluster's|does not hold the secret of --secret-file/);
      assert.doesNotMatch(wrong.stderr, /cannot reach/);
    });
  });

  describe('a node started with --key and --trust', () => {
    let node: Started | undefined;
    before(async () => {
      node = await start(['node', FIXTURE, '--key', n1Key, '--trust', trust, '--log-level', 'warn']);
    });
    after(() => stop(node));

    it('takes its node id from its name in the trust file', async () => {
      const status = await runCli(['status', '--seed', node!.address, '--key', opsKey, '--trust', trust, '--json']);
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(
        (JSON.parse(status.stdout) as { nodes: { id: string }[] }).nodes.map((n) => n.id),
        ['n1'],
      );
    });

    it('a command holding the node’s own key is a client of it, not a duplicate of it', async () => {
      const call = await runCli([
        'call',
        'fixture.add',
        '{"a":1,"b":1}',
        '--seed',
        node!.address,
        '--key',
        n1Key,
        '--trust',
        trust,
      ]);
      assert.equal(call.code, 0, call.stderr);
      assert.equal(call.stdout.trim(), '2');
    });

    it('serves a client whose key it trusts; refuses a key it does not, and a client without one', async () => {
      const call = await runCli([
        'call',
        'fixture.add',
        '{"a":2,"b":40}',
        '--seed',
        node!.address,
        '--key',
        opsKey,
        '--trust',
        trust,
      ]);
      assert.equal(call.code, 0, call.stderr);
      assert.equal(call.stdout.trim(), '42');
      const stranger = await runCli([
        'call',
        'fixture.add',
        '{"a":2,"b":40}',
        '--seed',
        node!.address,
        '--key',
        malloryKey,
        '--trust',
        malloryTrust,
      ]);
      assert.equal(stranger.code, 1);
      assert.match(stranger.stderr, /^UNAUTHENTICATED: .*does not trust/);
      assert.match(stranger.stderr, /add its public key .* to the server's trust file/);
      const none = await runCli(['emit', 'x.y', '--seed', node!.address]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^UNAUTHENTICATED: /);
    });
  });

  it('--tls-* with --mtls: the certificate names the member (and the client); no certificate, no entry', async (t) => {
    if (!hasOpenssl()) {
      t.skip('openssl is not installed');
      return;
    }
    const pki = mkdtempSync(join(dir, 'pki-'));
    makeTestPki(pki, ['kv-tls', 'ops']);
    const tls = (name: string) => [
      '--tls-cert',
      join(pki, `${name}.crt`),
      '--tls-key',
      join(pki, `${name}.key`),
      '--tls-ca',
      join(pki, 'ca.crt'),
      '--mtls',
    ];
    const misnamed = await runCli([
      'server',
      '--id',
      'other',
      '--data',
      join(dir, 'tls-x'),
      '--listen',
      '127.0.0.1:0',
      ...tls('kv-tls'),
    ]);
    assert.equal(misnamed.code, 2);
    assert.match(
      misnamed.stderr,
      /--id other does not match .* certificate of --tls-cert names 'kv-tls'; use --id kv-tls/,
    );
    let server: Started | undefined;
    try {
      server = await start([
        'server',
        '--id',
        'kv-tls',
        '--data',
        join(dir, 'tls'),
        '--listen',
        '127.0.0.1:0',
        ...tls('kv-tls'),
      ]);
      const put = await runCli(['kv', 'put', 'tls/a', 'over-mtls', '--servers', server.address, ...tls('ops')]);
      assert.equal(put.code, 0, put.stderr);
      const get = await runCli(['kv', 'get', 'tls/a', '--servers', server.address], 20_000, {
        env: {
          PARLEY_TLS_CERT: join(pki, 'ops.crt'),
          PARLEY_TLS_KEY: join(pki, 'ops.key'),
          PARLEY_TLS_CA: join(pki, 'ca.crt'),
        },
      });
      assert.equal(get.code, 1, 'without --mtls the client presents its certificate but does not authenticate by it');
      const anonymous = await runCli([
        'kv',
        'get',
        'tls/a',
        '--servers',
        server.address,
        '--tls-ca',
        join(pki, 'ca.crt'),
      ]);
      assert.equal(anonymous.code, 1);
      const member = await runCli(['kv', 'get', 'tls/a', '--servers', server.address, '--mtls'], 20_000, {
        env: {
          PARLEY_TLS_CERT: join(pki, 'ops.crt'),
          PARLEY_TLS_KEY: join(pki, 'ops.key'),
          PARLEY_TLS_CA: join(pki, 'ca.crt'),
        },
      });
      assert.equal(member.stdout, 'over-mtls\n', member.stderr);
    } finally {
      await stop(server);
    }
  });

  it('--tokens on a node and --token on a client: the client verifies the node (--trust), then presents its token; a forged one is refused', async () => {
    const issuer = generateKeyPairSync('ed25519');
    const forger = generateKeyPairSync('ed25519');
    const apiKeys = generateNodeKeys();
    const apiKey = file('api.key', apiKeys.secretKey);
    const serverTrust = file('api-trust.json', JSON.stringify({ api: apiKeys.publicKey }), 0o644);
    const tokens = file(
      'tokens.json',
      JSON.stringify({
        issuer: 'https://issuer.test',
        audience: 'parley',
        keys: [issuer.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
      }),
      0o644,
    );
    const badTokens = file(
      'bad-tokens.json',
      JSON.stringify({ issuer: 'x', audience: 'y', keys: [], algorithms: ['HS256'] }),
      0o644,
    );
    const refused = await runCli(['node', FIXTURE, '--tokens', badTokens]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--tokens \S+bad-tokens\.json: /);
    const whoami = file(
      'whoami.mjs',
      "export default { name: 'whoami', actions: { me: (_p, ctx) => ctx.principal?.name } };\n",
      0o644,
    );
    let api: Started | undefined;
    try {
      api = await start([
        'node',
        whoami,
        '--key',
        apiKey,
        '--trust',
        serverTrust,
        '--tokens',
        tokens,
        '--log-level',
        'warn',
      ]);
      const jwt = (key: typeof issuer.privateKey) =>
        new SignJWT({ groups: ['ops'] })
          .setProtectedHeader({ alg: 'EdDSA' })
          .setSubject('alice')
          .setIssuer('https://issuer.test')
          .setAudience('parley')
          .setExpirationTime('5m')
          .sign(key);
      const tokenFile = file('alice.jwt', await jwt(issuer.privateKey));
      const me = await runCli([
        'call',
        'whoami.me',
        '--seed',
        api.address,
        '--token',
        `@${tokenFile}`,
        '--trust',
        serverTrust,
      ]);
      assert.equal(me.code, 0, me.stderr);
      assert.equal(JSON.parse(me.stdout), 'alice', 'the handler sees the principal the token names');
      const forged = await runCli(['call', 'whoami.me', '--seed', api.address, '--trust', serverTrust], 20_000, {
        env: { PARLEY_TOKEN: await jwt(forger.privateKey) },
      });
      assert.equal(forged.code, 1);
      assert.match(forged.stderr, /^UNAUTHENTICATED: /);
    } finally {
      await stop(api);
    }
  });

  it('refuses a key file other users can read, naming the fix', async () => {
    const open = file('open.key', n1.secretKey, 0o644);
    const r = await runCli(['node', FIXTURE, '--key', open, '--trust', trust]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--key \S+open\.key is open to every user \(mode 0644\); .*chmod 600/);
  });

  it('a listener on 0.0.0.0 without authentication refuses to start, naming the flags; --insecure starts it with one warning', async () => {
    const refused = await runCli(['node', FIXTURE, '--host', '0.0.0.0', '--port', '0']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--host 0\.0\.0\.0 is reachable from other machines.*--secret-file FILE.*--insecure/);
    const server = await runCli(['server', '--id', 'x', '--data', join(dir, 'x'), '--listen', '0.0.0.0:0']);
    assert.equal(server.code, 2);
    assert.match(server.stderr, /--listen 0\.0\.0\.0:0 is reachable from other machines/);
    let open: Started | undefined;
    try {
      open = await start(['node', FIXTURE, '--host', '0.0.0.0', '--port', '0', '--insecure', '--log-level', 'warn']);
      const call = await runCli([
        'call',
        'fixture.add',
        '{"a":1,"b":1}',
        '--seed',
        `127.0.0.1:${open.address.split(':').pop()}`,
      ]);
      assert.equal(call.stdout.trim(), '2', call.stderr);
      assert.equal(open.stderr().match(/INSECURE/g)?.length, 1, open.stderr());
    } finally {
      await stop(open);
    }
    const secured = await start([
      'node',
      FIXTURE,
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--secret-file',
      secretFile,
      '--log-level',
      'warn',
    ]);
    await stop(secured);
    assert.doesNotMatch(secured.stderr(), /INSECURE/);
  });
});
