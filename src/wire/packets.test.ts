import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { msgpackCodec } from './codec.js';
import {
  encodeError,
  encodeEvent,
  encodeRequest,
  errorFromBody,
  MAX_GOSSIP_ENTRIES,
  parseError,
  parseEvent,
  parseGossip,
  parseHello,
  parseRequest,
} from './packets.js';
import { ParleyError } from './parley-error.js';

const roundTrip = (v: unknown) => msgpackCodec.decode(msgpackCodec.encode(v));

describe('packets', () => {
  it('round-trips a request', () => {
    const body = { action: 'math.add', params: { a: 1, b: 2 }, meta: { user: 'u1' }, timeoutMs: 250, options: null };
    assert.deepEqual(parseRequest(roundTrip(encodeRequest(body))), body);
    assert.equal(encodeRequest(body).length, 4, 'no options: the short tuple');
    const withOptions = { ...body, options: { idempotencyKey: 'k-1', priority: 3 } };
    assert.deepEqual(parseRequest(roundTrip(encodeRequest(withOptions))), withOptions);
    assert.throws(
      () => parseRequest(['a', null, null, 0, { k: 5 }]),
      (e: unknown) => ParleyError.is(e, 'INVALID_ARGUMENT'),
    );
  });

  it('round-trips an error with code, details and retry-after', () => {
    const err = new ParleyError('RESOURCE_EXHAUSTED', 'slow down', { details: { limit: 5 }, retryAfterMs: 120 });
    const back = errorFromBody(parseError(roundTrip(encodeError(err))));
    assert.equal(back.code, 'RESOURCE_EXHAUSTED');
    assert.equal(back.message, 'slow down');
    assert.deepEqual(back.details, { limit: 5 });
    assert.equal(back.retryAfterMs, 120);
  });

  it('maps an unknown status number to UNKNOWN', () => {
    assert.equal(parseError([99, 'x']).code, 'UNKNOWN');
  });

  it('rejects wrongly typed bodies with INVALID_ARGUMENT', () => {
    for (const bad of [null, 5, 'x', [], [1, 2, 3, 4], ['a', {}, 'meta', 1], ['a', {}, null, '1']]) {
      assert.throws(
        () => parseRequest(bad),
        (e: unknown) => ParleyError.is(e, 'INVALID_ARGUMENT'),
      );
    }
    assert.throws(
      () => parseEvent(['e', 1, [3], 1, null]),
      (e: unknown) => ParleyError.is(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(() => parseHello({ protocol: 1, codec: 'msgpack', maxFrameSize: 1, node: { id: '' } }), ParleyError);
  });

  it('round-trips events, broadcast included', () => {
    const balanced = { name: 'order.created', payload: { id: 1 }, groups: ['billing'], seq: 9, meta: null };
    const broadcast = { ...balanced, groups: null };
    assert.deepEqual(parseEvent(roundTrip(encodeEvent(balanced))), balanced);
    assert.deepEqual(parseEvent(roundTrip(encodeEvent(broadcast))), broadcast);
  });
});

describe('GOSSIP bodies', () => {
  it('refuse more than MAX_GOSSIP_ENTRIES entries and malformed fields', () => {
    const entry = ['n1', '127.0.0.1:7401', 'inc'];
    assert.equal(parseGossip(Array.from({ length: MAX_GOSSIP_ENTRIES }, () => entry)).length, MAX_GOSSIP_ENTRIES);
    assert.throws(
      () => parseGossip(Array.from({ length: MAX_GOSSIP_ENTRIES + 1 }, () => entry)),
      (e: unknown) => e instanceof ParleyError && e.code === 'RESOURCE_EXHAUSTED',
    );
    for (const bad of [['', 'a:1', 'i'], ['a b', 'a:1', 'i'], ['n', 'x'.repeat(300), 'i'], ['n', 1, 'i'], 'n']) {
      assert.throws(
        () => parseGossip([bad]),
        (e: unknown) => e instanceof ParleyError && e.code === 'INVALID_ARGUMENT',
        JSON.stringify(bad),
      );
    }
  });
});
