import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameOpener, FrameSealer } from './frame-sealer.js';
import { isSealError } from './seal-error.js';
import { deriveSessionKeys, generateEphemeral } from './session-keys.js';

const transcript = new TextEncoder().encode('hello-a|hello-b|challenge');

describe('session keys', () => {
  it('the dialer send key is the listener receive key, and the directions differ', () => {
    const a = generateEphemeral();
    const b = generateEphemeral();
    assert.equal(a.publicKey.length, 32);
    const dialer = deriveSessionKeys(a, b.publicKey, transcript, true);
    const listener = deriveSessionKeys(b, a.publicKey, transcript, false);
    assert.deepEqual(dialer.send, listener.receive);
    assert.deepEqual(dialer.receive, listener.send);
    assert.notDeepEqual(dialer.send, dialer.receive);
    assert.equal(dialer.send.length, 32);
  });

  it('a different transcript, psk, role or algorithm gives different keys', () => {
    const a = generateEphemeral();
    const b = generateEphemeral();
    const base = deriveSessionKeys(a, b.publicKey, transcript, true);
    const other = new TextEncoder().encode('hello-a|hello-B|challenge');
    assert.notDeepEqual(deriveSessionKeys(a, b.publicKey, other, true).send, base.send);
    const psk = new Uint8Array(32).fill(7);
    const withPsk = deriveSessionKeys(a, b.publicKey, transcript, true, psk);
    assert.notDeepEqual(withPsk.send, base.send);
    assert.deepEqual(withPsk.send, deriveSessionKeys(b, a.publicKey, transcript, false, psk).receive);
    // Both sides claiming to dial (a confused or reflected handshake) agree on nothing usable.
    const bothDial = deriveSessionKeys(b, a.publicKey, transcript, true);
    assert.notDeepEqual(bothDial.receive, base.send);
    const aes = deriveSessionKeys(a, b.publicKey, transcript, true, undefined, 'aes-256-gcm');
    const chacha = deriveSessionKeys(a, b.publicKey, transcript, true, undefined, 'chacha20-poly1305');
    assert.notDeepEqual(aes.send, chacha.send);
  });

  it('keys from one exchange seal and open end to end', () => {
    const a = generateEphemeral();
    const b = generateEphemeral();
    const dialer = deriveSessionKeys(a, b.publicKey, transcript, true);
    const listener = deriveSessionKeys(b, a.publicKey, transcript, false);
    const aad = new Uint8Array([1, 2, 3]);
    const sealed = new FrameSealer(dialer.send, { algorithm: dialer.algorithm }).seal(aad, Buffer.from('hi'));
    const opened = new FrameOpener(listener.receive, { algorithm: listener.algorithm }).open(aad, sealed);
    assert.equal(Buffer.from(opened).toString(), 'hi');
    // A frame reflected back to its sender does not open with the sender's receive key.
    assert.throws(
      () => new FrameOpener(dialer.receive).open(aad, sealed),
      (e) => isSealError(e, 'tampered'),
    );
  });

  it('refuses a low-order or malformed peer public key with a clear error', () => {
    const a = generateEphemeral();
    const lowOrder = [
      new Uint8Array(32),
      Uint8Array.from([1, ...new Array(31).fill(0)]),
      Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
    ];
    for (const point of lowOrder) {
      assert.throws(
        () => deriveSessionKeys(a, point, transcript, true),
        (e) => isSealError(e, 'bad-key') && /low-order/.test((e as Error).message),
      );
    }
    assert.throws(
      () => deriveSessionKeys(a, new Uint8Array(31), transcript, true),
      (e) => isSealError(e, 'bad-key') && /31 bytes/.test((e as Error).message),
    );
  });
});
