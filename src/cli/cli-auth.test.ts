import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authFromEnv } from './cli-auth.js';
import { UsageError } from './usage-error.js';

describe('CLI authentication from the environment', () => {
  it('nothing set: no auth, as before', () => {
    assert.equal(authFromEnv('client', 'u', {}), undefined);
    assert.equal(authFromEnv('member', 'u', { PARLEY_SECRET: '' }), undefined);
  });

  it('a member takes the secret, its key and the trust list; a client its token and the trust list', () => {
    const env = {
      PARLEY_SECRET: 's',
      PARLEY_KEY: 'PARLEY-SK-X',
      PARLEY_TOKEN: 't',
      PARLEY_TRUST: 'a=PARLEY-PK-A, b = PARLEY-PK-B',
    };
    assert.deepEqual(authFromEnv('member', 'u', env), {
      secret: 's',
      key: 'PARLEY-SK-X',
      trust: { a: 'PARLEY-PK-A', b: 'PARLEY-PK-B' },
    });
    assert.deepEqual(authFromEnv('client', 'u', env), {
      secret: 's',
      token: 't',
      trust: { a: 'PARLEY-PK-A', b: 'PARLEY-PK-B' },
    });
  });

  it('a malformed PARLEY_TRUST is a usage error naming it', () => {
    assert.throws(
      () => authFromEnv('member', 'u', { PARLEY_TRUST: 'PARLEY-PK-A' }),
      (e: unknown) => e instanceof UsageError && /PARLEY_TRUST/.test((e as Error).message),
    );
  });
});
