import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../base/testing/fake-clock.js';
import { parseGoodbye } from '../wire/packets.js';
import { RefusalLog, refusalError, refusalOf, refusalReasonOf } from './connection-refusal.js';

describe('connection refusals', () => {
  it('a reason from a peer is a known word or unknown; a GOODBYE keeps only a short lowercase word', () => {
    assert.equal(refusalReasonOf('bad-proof'), 'bad-proof');
    assert.equal(refusalReasonOf('__proto__'), 'unknown');
    assert.equal(refusalReasonOf(42), 'unknown');
    assert.deepEqual(parseGoodbye({ code: 'UNAUTHENTICATED', reason: 'r', refusal: 'bad-proof' }), {
      code: 'UNAUTHENTICATED',
      reason: 'r',
      refusal: 'bad-proof',
    });
    assert.equal(parseGoodbye({ code: 'UNAUTHENTICATED', reason: 'r', refusal: 'x'.repeat(100) }).refusal, undefined);
    assert.equal(parseGoodbye({ code: 'UNAUTHENTICATED', reason: 'r', refusal: { a: 1 } }).refusal, undefined);
  });

  it('the log keeps the last refusal per address and peer, forgets on success, tells listeners, stays bounded', () => {
    const clock = new FakeClock();
    const log = new RefusalLog(clock);
    const heard: string[] = [];
    const stop = log.listen((r) => heard.push(r.reason));
    const fields = { code: 'UNAUTHENTICATED', message: 'm', by: 'peer', address: 'a:1', peerId: 'n1' } as const;
    log.record({ ...fields, reason: 'wrong-secret' });
    clock.advance(5);
    const last = log.record({ ...fields, reason: 'bad-proof' });
    assert.equal(log.last('a:1'), last);
    assert.equal(log.last('n1'), last);
    assert.equal(last.at, 5);
    assert.deepEqual(heard, ['wrong-secret', 'bad-proof']);
    log.forget('a:1', 'n1');
    assert.equal(log.last('a:1'), undefined);
    assert.equal(log.last('n1'), undefined);
    stop();
    for (let i = 0; i < 3000; i++) log.record({ ...fields, reason: 'protocol', address: `x:${i}`, peerId: undefined });
    assert.equal(heard.length, 2);
    assert.equal(log.last('x:0'), undefined, 'the oldest are forgotten');
    assert.equal(log.last('x:2999')?.reason, 'protocol');
  });

  it('the error of a refusal carries its code and reason, and refusalOf reads them back', () => {
    const err = refusalError({
      code: 'PERMISSION_DENIED',
      reason: 'revoked',
      message: 'no longer trusted',
      by: 'peer',
      address: 'h:1',
      at: 0,
    });
    assert.equal(err.code, 'PERMISSION_DENIED');
    assert.match(err.message, /^h:1 refused this node: no longer trusted$/);
    assert.deepEqual(refusalOf(err), { code: 'PERMISSION_DENIED', reason: 'revoked', by: 'peer' });
    assert.equal(refusalOf(new Error('x')), undefined);
  });
});
