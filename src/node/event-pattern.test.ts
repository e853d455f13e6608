import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePattern, validateEventName } from './event-pattern.js';

describe('event patterns', () => {
  const cases: [string, string, boolean][] = [
    ['user.created', 'user.created', true],
    ['user.created', 'user.deleted', false],
    ['order.*', 'order.created', true],
    ['order.*', 'order', false],
    ['order.*', 'order.a.b', false],
    ['order.**', 'order', true],
    ['order.**', 'order.a', true],
    ['order.**', 'order.a.b.c', true],
    ['order.**', 'orders.a', false],
    ['**', 'anything.at.all', true],
    ['**.created', 'created', true],
    ['**.created', 'a.b.created', true],
    ['**.created', 'a.b.deleted', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.b.x.c', false],
    ['a.**.c', 'a.c', true],
    ['a.**.c', 'a.b.x.c', true],
    ['*', 'x', true],
    ['*', 'x.y', false],
  ];
  for (const [pattern, name, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${name}`, () => {
      assert.equal(compilePattern(pattern)(name), expected);
    });
  }

  it('rejects wildcard or empty event names', () => {
    assert.throws(() => validateEventName('a.*'), TypeError);
    assert.throws(() => validateEventName(''), TypeError);
    validateEventName('a.b');
  });
});
