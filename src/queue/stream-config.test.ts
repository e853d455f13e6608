import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkStreamUpdate, MAX_PARTITIONS, sharedSubject, validateStreamConfig } from './stream-config.js';

describe('stream config', () => {
  it('fills the defaults, subjects defaulting to the stream name', () => {
    assert.deepEqual(validateStreamConfig({ name: 'orders' }), {
      name: 'orders',
      subjects: ['orders'],
      partitions: 1,
      replicas: 3,
      retention: 'limits',
      discard: 'old',
      maxMessages: 0,
      maxBytes: 0,
      maxAgeMs: 0,
      maxMessageBytes: 1024 * 1024,
      dedupWindowMs: 120_000,
      compactByKey: false,
      maxDelayMs: 24 * 60 * 60 * 1000,
    });
  });

  it('builds equal configs for equal inputs whatever the field order (they encode to the same bytes)', () => {
    const a = validateStreamConfig({ name: 's', maxMessages: 5, subjects: ['a.*'] });
    const b = validateStreamConfig({ subjects: ['a.*'], maxMessages: 5, name: 's' });
    assert.deepEqual(Object.keys(a), Object.keys(b));
    assert.deepEqual(a, b);
  });

  it('refuses a wrong field with INVALID_ARGUMENT naming it and the allowed range', () => {
    const cases: [unknown, RegExp][] = [
      [null, /expected an object/],
      [{ name: 'a b' }, /name is "a b"; it must be 1..64 letters/],
      [{ name: 'x'.repeat(65) }, /name/],
      [{ name: 's', subjects: [] }, /subjects must be an array of 1..64/],
      [{ name: 's', subjects: ['a.>.b'] }, /subjects\[0\] uses '>' before the last token/],
      [{ name: 's', subjects: ['a', 'a'] }, /subjects\[1\] "a" is listed twice/],
      [{ name: 's', partitions: 0 }, /partitions is 0; it must be an integer in 1..64/],
      [{ name: 's', partitions: MAX_PARTITIONS + 1 }, /partitions is 65/],
      [{ name: 's', partitions: 1.5 }, /partitions/],
      [{ name: 's', replicas: 2 }, /replicas is 2; it must be 1, 3 or 5/],
      [{ name: 's', retention: 'interest' }, /retention is "interest"; it must be one of limits, work-queue/],
      [{ name: 's', discard: 'all' }, /discard/],
      [{ name: 's', maxMessages: -1 }, /maxMessages is -1; it must be an integer ≥ 0/],
      [{ name: 's', maxAgeMs: '5s' }, /maxAgeMs is "5s"/],
      [{ name: 's', maxMessageBytes: 0 }, /maxMessageBytes is 0; it must be an integer in 1\.\.8388608/],
      [{ name: 's', dedupWindowMs: 86_400_001 }, /dedupWindowMs/],
      [{ name: 's', compactByKey: 'yes' }, /compactByKey is "yes"; it must be true or false/],
      [{ name: 's', maxDelayMs: -5 }, /maxDelayMs/],
      [{ name: 's', maxBytes: 1000 }, /maxBytes 1000 is below maxMessageBytes 1048576/],
      [{ name: 's', maxAge: 5 }, /unknown field "maxAge"/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => validateStreamConfig(input), { code: 'INVALID_ARGUMENT', message }, JSON.stringify(input));
    }
    const err = (() => {
      try {
        validateStreamConfig({ name: 's', partitions: 0 });
      } catch (e) {
        return e as { details: { field: string } };
      }
    })();
    assert.equal(err?.details.field, 'partitions');
  });

  it('strips unknown fields when asked (a command from a newer member)', () => {
    const c = validateStreamConfig({ name: 's', futureField: 1 }, { unknownFields: 'strip' });
    assert.equal('futureField' in c, false);
  });

  it('an update may change limits, subjects and discard, not partitions, retention, compaction or replicas', () => {
    const base = validateStreamConfig({ name: 's', partitions: 3 });
    checkStreamUpdate(
      base,
      validateStreamConfig({ name: 's', partitions: 3, maxMessages: 10, subjects: ['x.>'], discard: 'new' }),
    );
    for (const change of [{ partitions: 4 }, { retention: 'work-queue' }, { compactByKey: true }, { replicas: 5 }]) {
      const next = validateStreamConfig({ name: 's', partitions: 3, ...change });
      const field = Object.keys(change)[0]!;
      assert.throws(() => checkStreamUpdate(base, next), {
        code: 'FAILED_PRECONDITION',
        message: new RegExp(`${field} cannot change`),
      });
    }
    assert.throws(
      () => checkStreamUpdate(base, validateStreamConfig({ name: 't', partitions: 3 })),
      /name cannot change/,
    );
  });

  it('finds the subjects two streams share', () => {
    const a = validateStreamConfig({ name: 'a', subjects: ['orders.*', 'audit'] });
    const b = validateStreamConfig({ name: 'b', subjects: ['payments.>', 'orders.eu'] });
    assert.deepEqual(sharedSubject(a, b), ['orders.*', 'orders.eu']);
    assert.equal(sharedSubject(a, validateStreamConfig({ name: 'c', subjects: ['orders.eu.x'] })), undefined);
  });
});
