import assert from 'node:assert/strict';
import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { ParleyError } from '../../wire/parley-error.js';
import { createTokenVerifier } from './token-verifier.js';

const ed = generateKeyPairSync('ed25519');
const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ISSUER = 'https://issuer.example';
const AUDIENCE = 'parley';

const verifier = createTokenVerifier({
  issuer: ISSUER,
  audience: AUDIENCE,
  keys: [ed.publicKey.export({ format: 'jwk' }), es.publicKey.export({ format: 'pem', type: 'spki' }) as string],
  groupsClaim: 'roles',
});

function token(
  claims: Record<string, unknown> = {},
  options: { alg?: string; key?: Parameters<SignJWT['sign']>[0]; exp?: string | number; aud?: string } = {},
) {
  return new SignJWT({ roles: ['ops', 'dev'], ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'EdDSA' })
    .setIssuer(ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setSubject('carol')
    .setIssuedAt()
    .setExpirationTime(options.exp ?? '5m')
    .sign(options.key ?? ed.privateKey);
}

async function refused(jwt: string | Promise<string>, pattern: RegExp): Promise<void> {
  await assert.rejects(verifier(await jwt), (err: unknown) => {
    assert.ok(ParleyError.is(err, 'UNAUTHENTICATED'), String(err));
    assert.match((err as Error).message, pattern);
    return true;
  });
}

describe('token verifier', () => {
  it('accepts EdDSA and ES256 tokens from the configured keys; sub is the name, the claim gives groups', async () => {
    const p = await verifier(await token());
    assert.deepEqual(
      { name: p.name, groups: p.groups, via: p.via, authenticated: p.authenticated },
      {
        name: 'carol',
        groups: ['ops', 'dev'],
        via: 'token',
        authenticated: true,
      },
    );
    assert.equal((await verifier(await token({}, { alg: 'ES256', key: es.privateKey }))).name, 'carol');
  });

  it('refuses expired, wrong-audience, wrong-issuer, unsigned, HS256 and foreign-key tokens', async () => {
    await refused(token({}, { exp: Math.floor(Date.now() / 1000) - 3600 }), /expired/);
    await refused(token({}, { aud: 'someone-else' }), /aud/);
    await refused(
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer('https://evil.example')
        .setAudience(AUDIENCE)
        .setSubject('carol')
        .setExpirationTime('5m')
        .sign(ed.privateKey),
      /iss/,
    );
    const unsigned = new UnsecuredJWT({ sub: 'carol' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .encode();
    await refused(unsigned, /./);
    await refused(token({}, { alg: 'HS256', key: createSecretKey(Buffer.alloc(32, 7)) }), /algorithm/);
    await refused(token({}, { key: generateKeyPairSync('ed25519').privateKey }), /signature/);
    await refused(
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('carol')
        .sign(ed.privateKey),
      /exp/,
    );
    await refused('not.a.jwt', /./);
  });

  it('refuses symmetric algorithms and keys in its options', () => {
    const bad = (fn: () => unknown) => assert.throws(fn, (e: unknown) => ParleyError.is(e, 'INVALID_ARGUMENT'));
    bad(() =>
      createTokenVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: [ed.publicKey.export({ format: 'jwk' })],
        algorithms: ['HS256'],
      }),
    );
    bad(() =>
      createTokenVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: [ed.publicKey.export({ format: 'jwk' })],
        algorithms: ['none'],
      }),
    );
    bad(() => createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: [{ kty: 'oct', k: 'AAAA' }] }));
    bad(() =>
      createTokenVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
      }),
    );
    bad(() => createTokenVerifier({ issuer: '', audience: AUDIENCE, keys: [ed.publicKey.export({ format: 'jwk' })] }));
  });
});
