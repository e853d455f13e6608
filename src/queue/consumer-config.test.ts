import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONSUMER_DEFAULTS, sameConsumerConfig, validateConsumerConfig } from './consumer-config.js';

describe('consumer config', () => {
  it('fills the documented defaults', () => {
    assert.deepEqual(validateConsumerConfig({ name: 'workers' }), {
      name: 'workers',
      durable: true,
      inactiveMs: 300_000,
      mode: 'competing',
      deliverFrom: { from: 'first' },
      ackWaitMs: 30_000,
      backoffMs: [],
      maxDeliver: 20,
      maxAckPending: 1000,
    });
    assert.equal(CONSUMER_DEFAULTS.maxDeliver, 20);
  });

  it('keeps what is given, and validating twice changes nothing', () => {
    const input = {
      name: 'w-1',
      durable: false,
      inactiveMs: 5000,
      mode: 'ordered-by-key',
      deliverFrom: { from: 'sequence', seq: 7 },
      filterSubject: 'orders.*.eu',
      ackWaitMs: 100,
      backoffMs: [1000, 5000],
      maxDeliver: 1,
      maxAckPending: 1,
    };
    const once = validateConsumerConfig(input);
    assert.deepEqual(once, input);
    assert.deepEqual(validateConsumerConfig(once), once);
    assert.ok(sameConsumerConfig(once, validateConsumerConfig({ ...input })));
    assert.ok(!sameConsumerConfig(once, validateConsumerConfig({ ...input, maxDeliver: 2 })));
  });

  it('accepts every way to start', () => {
    for (const deliverFrom of [
      { from: 'first' },
      { from: 'last' },
      { from: 'new' },
      { from: 'sequence', seq: 1 },
      { from: 'time', time: 0 },
    ]) {
      assert.deepEqual(validateConsumerConfig({ name: 'c', deliverFrom }).deliverFrom, deliverFrom);
    }
  });

  it('refuses configs that make no sense with INVALID_ARGUMENT naming the field and what to do', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ maxDeliver: 0 }, /maxDeliver is 0; a message must be delivered at least once/],
      [{ maxDeliver: 1.5 }, /maxDeliver/],
      [{ ackWaitMs: 99 }, /ackWaitMs is 99; use at least 100 ms/],
      [{ backoffMs: Array(21).fill(10) }, /backoffMs must be a list of at most 20 delays/],
      [{ backoffMs: [100, -1] }, /backoffMs\[1\] is -1/],
      [{ backoffMs: 'fast' }, /backoffMs/],
      [{ maxAckPending: 0 }, /maxAckPending is 0; at least one unacked delivery/],
      [{ inactiveMs: 10 }, /inactiveMs is 10/],
      [{ mode: 'fifo' }, /mode is fifo; use 'competing' or 'ordered-by-key'/],
      [{ durable: 'yes' }, /durable/],
      [{ filterSubject: 'orders..eu' }, /filterSubject "orders..eu"/],
      [{ filterSubject: 'orders.>.eu' }, /filterSubject/],
      [{ filterSubject: 'ord*ers' }, /filterSubject/],
      [{ filterSubject: 7 }, /filterSubject/],
      [{ deliverFrom: { from: 'sequence', seq: 0 } }, /deliverFrom.seq is 0/],
      [{ deliverFrom: { from: 'time' } }, /deliverFrom.time/],
      [{ deliverFrom: { from: 'middle' } }, /deliverFrom.from is middle/],
      [{ deliverFrom: 'first' }, /deliverFrom must be an object/],
      [{ ackWait: 1000 }, /unknown field 'ackWait'/],
      [{ name: 'has space' }, /name is "has space"/],
      [{ name: 'x'.repeat(65) }, /name/],
    ];
    for (const [fields, message] of bad) {
      assert.throws(() => validateConsumerConfig({ name: 'c', ...fields }), { code: 'INVALID_ARGUMENT', message });
    }
    assert.throws(() => validateConsumerConfig(null), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => validateConsumerConfig({}), { code: 'INVALID_ARGUMENT', message: /name/ });
  });
});
