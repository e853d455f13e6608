import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { jsonCodec } from '../../wire/codec.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { PeerIdentity } from '../connection.js';
import {
  type HelloAuth,
  handshakeTranscript,
  keyProof,
  parseAuthBody,
  parseHelloAuth,
  secretProof,
  tlsPrincipalName,
  verifyKeyProof,
  verifySecretProof,
} from './handshake-auth.js';
import { generateNodeKeys, parsePublicKey, parseSecretKey } from './node-keys.js';

function helloAuth(overrides: Partial<HelloAuth> = {}): HelloAuth {
  return {
    v: 1,
    nonce: randomBytes(32).toString('base64url'),
    ephemeral: randomBytes(32).toString('base64url'),
    method: 'secret',
    seal: true,
    ...overrides,
  };
}

/** A HELLO body as a node sends it: the node id and the auth field. */
const helloBytes = (id: string, auth: HelloAuth) => jsonCodec.encode({ protocol: 1, node: { id }, auth });

const SECRET = Buffer.from('a cluster secret of at least thirty-two characters');

describe('handshake authentication (pure)', () => {
  const dialer = helloAuth();
  const listener = helloAuth();
  const transcript = handshakeTranscript(helloBytes('a', dialer), helloBytes('b', listener));

  it('a key proof verifies for its transcript and role only', () => {
    const keys = generateNodeKeys();
    const pair = parseSecretKey(keys.secretKey);
    const pub = parsePublicKey(keys.publicKey);
    const proof = keyProof(pair.privateKey, transcript, 'dialer');
    assert.ok(verifyKeyProof(pub, transcript, 'dialer', proof));
    assert.ok(!verifyKeyProof(pub, transcript, 'listener', proof), 'a proof reflected to the other role');
    assert.ok(
      !verifyKeyProof(parsePublicKey(generateNodeKeys().publicKey), transcript, 'dialer', proof),
      'another key',
    );
    assert.ok(!verifyKeyProof(pub, transcript, 'dialer', undefined));
    assert.ok(!verifyKeyProof(pub, transcript, 'dialer', 'AAAA'));
  });

  it('a proof is bound to both nonces, both ephemeral keys, both node ids and the order of the HELLOs', () => {
    const proof = secretProof(SECRET, transcript, 'listener');
    assert.ok(verifySecretProof(SECRET, transcript, 'listener', proof));
    const variants = [
      handshakeTranscript(helloBytes('a', { ...dialer, nonce: helloAuth().nonce }), helloBytes('b', listener)),
      handshakeTranscript(helloBytes('a', dialer), helloBytes('b', { ...listener, nonce: helloAuth().nonce })),
      handshakeTranscript(helloBytes('a', { ...dialer, ephemeral: helloAuth().ephemeral }), helloBytes('b', listener)),
      handshakeTranscript(helloBytes('a', dialer), helloBytes('b', { ...listener, ephemeral: helloAuth().ephemeral })),
      handshakeTranscript(helloBytes('mallory', dialer), helloBytes('b', listener)),
      handshakeTranscript(helloBytes('b', listener), helloBytes('a', dialer)),
    ];
    for (const [i, other] of variants.entries()) {
      assert.ok(!verifySecretProof(SECRET, other, 'listener', proof), `variant ${i} accepted a captured proof`);
    }
  });

  it('a wrong secret does not verify, and the comparison survives odd lengths', () => {
    const proof = secretProof(SECRET, transcript, 'dialer');
    assert.ok(
      !verifySecretProof(Buffer.from('another secret of at least thirty-two chars!!'), transcript, 'dialer', proof),
    );
    assert.ok(!verifySecretProof(SECRET, transcript, 'dialer', proof.slice(0, 10)));
  });

  it('the length prefixes keep two different HELLO pairs from hashing alike', () => {
    const x = handshakeTranscript(Buffer.from('ab'), Buffer.from('c'));
    const y = handshakeTranscript(Buffer.from('a'), Buffer.from('bc'));
    assert.notDeepEqual(x, y);
  });

  it('parses HELLO auth strictly', () => {
    assert.equal(parseHelloAuth(undefined), undefined);
    assert.deepEqual(parseHelloAuth(dialer), dialer);
    const bad = (v: unknown, code = 'INVALID_ARGUMENT') =>
      assert.throws(
        () => parseHelloAuth(v),
        (e: unknown) => ParleyError.is(e, code as 'INVALID_ARGUMENT'),
      );
    bad('x');
    bad({ ...dialer, v: 2 }, 'FAILED_PRECONDITION');
    bad({ ...dialer, nonce: randomBytes(8).toString('base64url') });
    bad({ ...dialer, ephemeral: 'not base64!' });
    bad({ ...dialer, method: 'magic' });
    bad({ ...dialer, method: 'key' });
    bad({ ...dialer, seal: 'yes' });
    assert.deepEqual(parseAuthBody({ proof: 'p' }), { proof: 'p' });
    assert.throws(() => parseAuthBody({ token: 'x'.repeat(20_000) }));
    assert.throws(() => parseAuthBody([]));
  });

  it('names a verified certificate by URI SAN, then DNS SAN, then CN, and an unverified one not at all', () => {
    const id = (san: string | undefined, authorized = true): PeerIdentity => ({
      commonName: 'cn-name',
      subjectAltName: san,
      fingerprint256: 'x',
      authorized,
    });
    assert.equal(
      tlsPrincipalName(id('DNS:dns-name, URI:spiffe://example.org/alice, IP Address:127.0.0.1')),
      'spiffe://example.org/alice',
    );
    assert.equal(tlsPrincipalName(id('IP Address:127.0.0.1, DNS:dns-name, DNS:other')), 'dns-name');
    assert.equal(tlsPrincipalName(id('IP Address:127.0.0.1')), 'cn-name');
    assert.equal(tlsPrincipalName(id(undefined)), 'cn-name');
    assert.equal(tlsPrincipalName(id('DNS:"a, b", URI:x')), 'x');
    assert.equal(tlsPrincipalName(id('DNS:dns-name', false)), undefined);
    assert.equal(tlsPrincipalName(undefined), undefined);
  });
});
