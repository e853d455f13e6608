import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { livenessAction, livenessTickMs } from './liveness.js';

const S = { keepaliveIntervalMs: 1000, idleTimeoutMs: 5000, handshakeTimeoutMs: 3000 };
const times = (o: Partial<Parameters<typeof livenessAction>[0]> = {}) => ({
  openedAt: 0,
  lastReceived: 0,
  handshaken: true,
  pingOutstanding: false,
  ...o,
});

describe('livenessAction', () => {
  it('pings a handshaken connection silent for the keepalive interval, once', () => {
    assert.equal(livenessAction(times(), 999, S).kind, 'none');
    assert.equal(livenessAction(times(), 1000, S).kind, 'ping');
    assert.equal(livenessAction(times({ pingOutstanding: true }), 2000, S).kind, 'none');
    assert.equal(livenessAction(times({ handshaken: false }), 2000, S).kind, 'none', 'nothing is sent before HELLO');
  });

  it('after a stall of this process, closes nothing and pings instead; the next tick decides', () => {
    assert.equal(livenessAction(times(), 60_000, S, true).kind, 'ping', 'silent far past the idle timeout');
    assert.equal(livenessAction(times({ pingOutstanding: true }), 60_000, S, true).kind, 'none');
    assert.equal(livenessAction(times({ handshaken: false }), 60_000, S, true).kind, 'none');
    assert.equal(livenessAction(times({ outboundFullSince: 0 }), 60_000, S, true).kind, 'ping');
    assert.equal(livenessAction(times({ pingOutstanding: true }), 60_000, S).kind, 'close');
  });

  it('closes a connection silent past the idle timeout, and one without HELLO past the handshake timeout', () => {
    assert.equal(livenessAction(times({ pingOutstanding: true }), 5000, S).kind, 'none');
    const idle = livenessAction(times({ pingOutstanding: true }), 5001, S);
    assert.equal(idle.kind, 'close');
    assert.match(idle.kind === 'close' ? idle.reason : '', /unresponsive/);
    const noHello = livenessAction(times({ handshaken: false, lastReceived: 3000 }), 3001, S);
    assert.match(noHello.kind === 'close' ? noHello.reason : '', /no HELLO, or no authentication, within 3000 ms/);
  });

  it('drops a peer whose outbound queue stayed full past the idle timeout, even while it sends', () => {
    const fullSince = { lastReceived: 10_000, outboundFullSince: 4000 };
    assert.equal(livenessAction(times(fullSince), 9000, S).kind, 'none');
    const drop = livenessAction(times(fullSince), 9001, S);
    assert.equal(drop.kind, 'drop');
    assert.match(drop.kind === 'drop' ? drop.reason : '', /does not read/);
  });

  it('checks four times per keepalive interval, at most every 50 ms', () => {
    assert.equal(livenessTickMs(S), 250);
    assert.equal(livenessTickMs({ ...S, keepaliveIntervalMs: 100 }), 50);
  });
});
