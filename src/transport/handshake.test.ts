import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonCodec } from '../wire/codec.js';
import { PROTOCOL_VERSION } from '../wire/frame.js';
import type { HelloBody } from '../wire/packets.js';
import { judgeHello, type KnownPeer, keepNewConnection } from './handshake.js';

const LOCAL = { id: 'b', incarnation: 'b-1' };
const KEEPALIVE = 1000;

function helloBody(id: string, incarnation: string, protocol = PROTOCOL_VERSION): Uint8Array {
  const hello: HelloBody = {
    protocol,
    codec: 'msgpack',
    maxFrameSize: 1 << 20,
    node: { id, address: `${id}.example:7401`, incarnation, version: 1, services: [], meta: {} },
  };
  return jsonCodec.encode(hello);
}

const nobody = () => undefined;
const known = (peer: KnownPeer) => () => peer;

describe('judgeHello', () => {
  it('accepts a new peer, and a known one under the same incarnation (a reconnect)', () => {
    const fresh = judgeHello(helloBody('a', 'a-1'), LOCAL, nobody, KEEPALIVE);
    assert.equal(fresh.kind, 'accept');
    assert.equal(fresh.kind === 'accept' && fresh.restarted, false);
    const again = judgeHello(
      helloBody('a', 'a-1'),
      LOCAL,
      known({ incarnation: 'a-1', address: null, silentMs: 10 }),
      KEEPALIVE,
    );
    assert.deepEqual(again.kind === 'accept' && again.restarted, false);
  });

  it('refuses malformed HELLOs and other protocol versions with their codes', () => {
    const junk = judgeHello(new TextEncoder().encode('{"protocol":1}'), LOCAL, nobody, KEEPALIVE);
    assert.equal(junk.kind === 'refuse' && junk.code, 'INVALID_ARGUMENT');
    const notJson = judgeHello(new TextEncoder().encode('{{{'), LOCAL, nobody, KEEPALIVE);
    assert.equal(notJson.kind === 'refuse' && notJson.code, 'INVALID_ARGUMENT');
    const old = judgeHello(helloBody('a', 'a-1', 0), LOCAL, nobody, KEEPALIVE);
    assert.equal(old.kind === 'refuse' && old.code, 'FAILED_PRECONDITION');
    assert.match(old.kind === 'refuse' ? old.reason : '', /protocol 0/);
  });

  it('tells dialing itself apart from another process using this node’s id', () => {
    assert.equal(judgeHello(helloBody('b', 'b-1'), LOCAL, nobody, KEEPALIVE).kind, 'self');
    const impostor = judgeHello(helloBody('b', 'b-2'), LOCAL, nobody, KEEPALIVE);
    assert.equal(impostor.kind === 'refuse' && impostor.code, 'ALREADY_EXISTS');
  });

  it('a new incarnation is a restart when the old connection is silent or gone, a duplicate id while it is alive', () => {
    const body = helloBody('a', 'a-2');
    const alive = known({ incarnation: 'a-1', address: '10.0.0.1:7401', silentMs: 2 * KEEPALIVE - 1 });
    const duplicate = judgeHello(body, LOCAL, alive, KEEPALIVE);
    assert.equal(duplicate.kind === 'refuse' && duplicate.code, 'ALREADY_EXISTS');
    assert.match(duplicate.kind === 'refuse' ? duplicate.reason : '', /10\.0\.0\.1:7401/);
    for (const silentMs of [2 * KEEPALIVE, undefined]) {
      const verdict = judgeHello(body, LOCAL, known({ incarnation: 'a-1', address: null, silentMs }), KEEPALIVE);
      assert.equal(verdict.kind === 'accept' && verdict.restarted, true, `silent ${silentMs}`);
    }
  });

  it('a restart that proves the identity the live-looking old connection proved is probed, not refused', () => {
    const body = helloBody('a', 'a-2');
    const alice = { name: 'a', groups: [], via: 'key', authenticated: true } as const;
    const alive = known({ incarnation: 'a-1', address: null, silentMs: 10, principal: alice });
    // Before the proof: decided again once it arrives.
    assert.equal(judgeHello(body, LOCAL, alive, KEEPALIVE, 'pending').kind, 'accept');
    assert.equal(judgeHello(body, LOCAL, alive, KEEPALIVE, alice).kind, 'probe');
    // Another identity, another way of proving the name, an unproven claim, or no proof at all: a duplicate.
    for (const proof of [
      { ...alice, name: 'mallory' },
      { ...alice, via: 'secret' as const },
      { ...alice, authenticated: false },
      'none' as const,
    ]) {
      const verdict = judgeHello(body, LOCAL, alive, KEEPALIVE, proof);
      assert.equal(verdict.kind === 'refuse' && verdict.refusal, 'duplicate-id', JSON.stringify(proof));
    }
    // An old connection that proved nothing cannot be replaced by a proof either.
    const unproven = known({ incarnation: 'a-1', address: null, silentMs: 10 });
    assert.equal(judgeHello(body, LOCAL, unproven, KEEPALIVE, alice).kind, 'refuse');
  });
});

describe('keepNewConnection (simultaneous dials)', () => {
  it('both sides keep the connection dialed by the smaller id', () => {
    // 'a' < 'b'. On a: its own dial is outbound; on b: a's dial is inbound.
    const dialedByA_onA = { outbound: true };
    const dialedByB_onA = { outbound: false };
    const dialedByA_onB = { outbound: false };
    const dialedByB_onB = { outbound: true };
    for (const [current, incoming] of [
      [dialedByA_onA, dialedByB_onA],
      [dialedByB_onA, dialedByA_onA],
    ] as const) {
      const keptOnA = keepNewConnection('a', 'b', current, incoming) ? incoming : current;
      assert.equal(keptOnA, dialedByA_onA);
    }
    for (const [current, incoming] of [
      [dialedByA_onB, dialedByB_onB],
      [dialedByB_onB, dialedByA_onB],
    ] as const) {
      const keptOnB = keepNewConnection('b', 'a', current, incoming) ? incoming : current;
      assert.equal(keptOnB, dialedByA_onB);
    }
  });
});
