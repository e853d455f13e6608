import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLoopbackHost } from '../node/listen-security.js';
import { generateNodeKeys } from '../transport/security/node-keys.js';
import { parseCommandArgs } from './args.js';
import { checkIdentity, checkListenExposure, LISTENER_SECURITY_FLAGS, securityFromFlags } from './security-flags.js';
import { UsageError } from './usage-error.js';

const SECRET = 'a-cluster-secret-of-more-than-32-characters';

describe('security flags: files and settings to auth / tls / insecure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-secflags-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  /** Parses argv as a listening command would, with `env` as the environment and `dir` as the cwd. */
  const read = (argv: string[], env: Record<string, string> = {}, cwd = dir) => {
    const sources = { env, cwd };
    const { flags } = parseCommandArgs(argv, LISTENER_SECURITY_FLAGS, 'u', { min: 0, max: 0 }, sources);
    return securityFromFlags(flags, 'u', sources);
  };
  const usageError = (pattern: RegExp) => (e: unknown) => e instanceof UsageError && pattern.test(e.message);

  it('no flags: no auth, no tls', () => {
    assert.deepEqual(read([]), {});
  });

  it('a secret comes from --secret-file, PARLEY_SECRET_FILE, PARLEY_SECRET, or secretFile in the config file', () => {
    const secretFile = file('secret', `${SECRET}\n`);
    assert.equal(read(['--secret-file', secretFile]).auth?.secret, SECRET, 'the trailing newline is not part of it');
    assert.equal(read([], { PARLEY_SECRET_FILE: secretFile }).auth?.secret, SECRET);
    assert.equal(read([], { PARLEY_SECRET: `${SECRET}-env` }).auth?.secret, `${SECRET}-env`);
    const other = file('other-secret', `${SECRET}-file`);
    assert.equal(
      read(['--secret-file', other], { PARLEY_SECRET: `${SECRET}-env` }).auth?.secret,
      `${SECRET}-file`,
      'a secret file wins over PARLEY_SECRET',
    );
    const cwd = mkdtempSync(join(dir, 'cfg-'));
    writeFileSync(join(cwd, 'parley.config.json'), JSON.stringify({ secretFile }));
    assert.equal(read([], {}, cwd).auth?.secret, SECRET);
  });

  it('refuses a short secret, saying how to make one', () => {
    const short = file('short', 'tooshort');
    assert.throws(() => read(['--secret-file', short]), usageError(/holds 8 characters; .* at least 32.*openssl rand/));
    assert.throws(() => read([], { PARLEY_SECRET: 'x' }), usageError(/PARLEY_SECRET holds 1 characters/));
  });

  it('refuses a key or secret file other users can read (as ssh does), and says to chmod 600', () => {
    const { secretKey, publicKey } = generateNodeKeys();
    const trust = file('trust.json', JSON.stringify({ n1: publicKey }), 0o644);
    const worldKey = file('world.key', secretKey, 0o644);
    assert.throws(
      () => read(['--key', worldKey, '--trust', trust]),
      usageError(/--key .*world\.key is open to every user \(mode 0644\).*chmod 600/),
    );
    const groupSecret = file('group-secret', SECRET, 0o640);
    assert.throws(() => read(['--secret-file', groupSecret]), usageError(/open to its group \(mode 0640\)/));
    const token = file('token', 'eyJ.token', 0o604);
    const secret = file('secret-ok', SECRET);
    assert.throws(
      () => read(['--token', `@${token}`, '--secret-file', secret]),
      usageError(/--token .* open to every user/),
    );
    // The trust file holds public keys only: any mode is fine.
    const ownKey = file('own.key', secretKey);
    assert.equal(read(['--key', ownKey, '--trust', trust]).auth?.key, secretKey);
  });

  it('a key is read from a file (also the output of parley keys gen); its name in --trust is the identity', () => {
    const me = generateNodeKeys();
    const peer = generateNodeKeys();
    const keyFile = file('me.key', `secret key  ${me.secretKey}\npublic key  ${me.publicKey}\n`);
    const trust = file(
      'trust2.json',
      JSON.stringify({ n2: peer.publicKey, ops: { publicKey: me.publicKey, groups: ['admin'] } }),
    );
    const security = read(['--key', keyFile, '--trust', trust]);
    assert.equal(security.auth?.key, me.secretKey);
    assert.equal(security.auth?.trust, trust, 'a trust file is passed by path (the node re-reads it)');
    assert.equal(security.identity, 'ops');
    checkIdentity('ops', security, 'u');
    assert.throws(
      () => checkIdentity('n2', security, 'u'),
      usageError(/--id n2 does not match .* trusted as 'ops'.*use --id ops/),
    );
    assert.throws(() => read(['--key', keyFile]), usageError(/--key needs --trust FILE/));
  });

  it('PARLEY_KEY and PARLEY_TRUST (name=PARLEY-PK-...,...) give them as values; a file wins', () => {
    const me = generateNodeKeys();
    const peer = generateNodeKeys();
    const env = { PARLEY_KEY: me.secretKey, PARLEY_TRUST: `n2=${peer.publicKey}, me = ${me.publicKey}` };
    const security = read([], env);
    assert.equal(security.auth?.key, me.secretKey);
    assert.deepEqual(security.auth?.trust, { n2: peer.publicKey, me: me.publicKey });
    assert.equal(security.identity, 'me');
    const trustFile = file('trust3.json', JSON.stringify({ only: peer.publicKey }));
    assert.equal(read(['--trust', trustFile], env).auth?.trust, trustFile);
    assert.throws(
      () => read([], { PARLEY_TRUST: peer.publicKey }),
      usageError(/PARLEY_TRUST: expected name=PARLEY-PK/),
    );
    assert.throws(
      () => read([], { PARLEY_KEY: 'nope', PARLEY_TRUST: `n2=${peer.publicKey}` }),
      usageError(/PARLEY_KEY holds no PARLEY-SK/),
    );
  });

  it('names the file and the entry of a bad trust file, and a key file without a key', () => {
    const bad = file('bad.json', '{"n1": "PARLEY-PK-NOPE"}');
    const notJson = file('not.json', '{n1');
    const keyFile = file('k.key', generateNodeKeys().secretKey);
    assert.throws(() => read(['--key', keyFile, '--trust', bad]), usageError(/--trust .*bad\.json: "n1"/));
    assert.throws(() => read(['--key', keyFile, '--trust', notJson]), usageError(/not\.json is not valid JSON/));
    const empty = file('empty.key', 'nothing here\n');
    assert.throws(
      () => read(['--key', empty, '--trust', bad]),
      usageError(/holds no PARLEY-SK-... key; make one with 'parley keys gen'/),
    );
    assert.throws(
      () => read(['--secret-file', join(dir, 'missing')]),
      usageError(/--secret-file .*missing: no such file/),
    );
  });

  it('a token needs a way to verify the server first; @FILE reads it from a file', () => {
    const secret = file('s', SECRET);
    assert.throws(
      () => read(['--token', 'abc']),
      usageError(/--token is only sent to a server this command has verified/),
    );
    assert.equal(read(['--token', 'abc', '--secret-file', secret]).auth?.token, 'abc');
    const tokenFile = file('t', 'from-file\n');
    assert.equal(read(['--token', `@${tokenFile}`, '--secret-file', secret]).auth?.token, 'from-file');
    assert.equal(read(['--secret-file', secret], { PARLEY_TOKEN: 'env-token' }).auth?.token, 'env-token');
  });

  it('TLS flags go together; --mtls needs all three', () => {
    const pem = file('x.pem', 'PEM', 0o644);
    assert.throws(() => read(['--tls-cert', pem]), usageError(/--tls-cert and --tls-key go together/));
    assert.throws(() => read(['--mtls']), usageError(/--mtls needs --tls-cert FILE, --tls-key FILE and --tls-ca FILE/));
    assert.deepEqual(read(['--tls-ca', pem]).tls, { ca: 'PEM' });
  });

  it('secure by default: a non-loopback listener needs an authentication mode or --insecure', () => {
    const secret = file('s2', SECRET);
    const check = (host: string, argv: string[]) =>
      checkListenExposure(host, read(argv), `--host ${host}`, 'u', isLoopbackHost);
    check('127.0.0.1', []);
    check('::1', []);
    assert.throws(
      () => check('0.0.0.0', []),
      usageError(
        /--host 0\.0\.0\.0 is reachable from other machines.*--secret-file FILE.*--key FILE with --trust FILE.*--insecure/,
      ),
    );
    check('0.0.0.0', ['--secret-file', secret]);
    check('0.0.0.0', ['--insecure']);
    assert.equal(read(['--insecure']).insecure, true);
  });
});
