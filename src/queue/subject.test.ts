import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MAX_SUBJECT_CHARS,
  MAX_SUBJECT_TOKENS,
  patternProblem,
  patternsOverlap,
  SubjectMatcher,
  subjectMatches,
  subjectProblem,
  validatePattern,
  validateSubject,
} from './subject.js';

/** Every subject of 1..4 tokens over {a, b, c}: enough to witness any overlap of patterns of ≤ 3 tokens. */
const ALL_SUBJECTS: string[] = [];
for (let n = 1; n <= 4; n++) {
  const build = (prefix: string[]) => {
    if (prefix.length === n) ALL_SUBJECTS.push(prefix.join('.'));
    else for (const t of ['a', 'b', 'c']) build([...prefix, t]);
  };
  build([]);
}

/** The oracle of a match: the pattern as a regular expression. */
function oracleMatches(pattern: string, subject: string): boolean {
  const re = pattern
    .split('.')
    .map((t) => (t === '*' ? '[^.]+' : t === '>' ? '[^.]+(?:\\.[^.]+)*' : t))
    .join('\\.');
  return new RegExp(`^${re}$`).test(subject);
}

const token = fc.constantFrom('a', 'b', '*');
const pattern = fc
  .tuple(fc.array(token, { minLength: 0, maxLength: 3 }), fc.constantFrom('a', 'b', '*', '>'))
  .map(([head, last]) => [...head, last].join('.'));
const subject = fc.constantFrom(...ALL_SUBJECTS);

describe('subjects', () => {
  it('accepts tokens of letters, digits, _ and -; wildcards only in patterns and only as whole tokens', () => {
    assert.equal(subjectProblem('orders.eu-1.created_at'), undefined);
    assert.equal(patternProblem('orders.*.>'), undefined);
    assert.equal(patternProblem('>'), undefined);
    assert.match(subjectProblem('orders.*')!, /wildcard/);
    assert.match(patternProblem('orders.>.x')!, /'>' before the last/);
    assert.match(patternProblem('orders.a*')!, /token 'a\*'/);
    assert.match(patternProblem('a..b')!, /empty token/);
    assert.match(patternProblem('.a')!, /empty token/);
    assert.match(patternProblem('a b')!, /token 'a b'/);
    assert.match(patternProblem('')!, /1\.\.256/);
    assert.match(patternProblem(7)!, /string/);
    assert.match(patternProblem('x'.repeat(MAX_SUBJECT_CHARS + 1))!, /characters/);
    assert.equal(patternProblem('x'.repeat(MAX_SUBJECT_CHARS)), undefined);
    assert.match(
      patternProblem(
        Array(MAX_SUBJECT_TOKENS + 1)
          .fill('a')
          .join('.'),
      )!,
      /17 tokens/,
    );
    assert.throws(() => validateSubject('a.>', 'messages[2].subject'), {
      code: 'INVALID_ARGUMENT',
      message: /^messages\[2\]\.subject uses the wildcard/,
    });
    assert.equal(validatePattern('a.*'), 'a.*');
  });

  it('matches: * one token, > one or more tokens at the end', () => {
    assert.ok(subjectMatches('orders.*', 'orders.eu'));
    assert.ok(!subjectMatches('orders.*', 'orders.eu.created'));
    assert.ok(!subjectMatches('orders.*', 'orders'));
    assert.ok(subjectMatches('orders.>', 'orders.eu.created'));
    assert.ok(!subjectMatches('orders.>', 'orders'));
    assert.ok(subjectMatches('>', 'x'));
    assert.ok(!subjectMatches('orders', 'orders.eu'));
  });

  it('matches exactly as the regular expression of the pattern does (property)', () => {
    fc.assert(
      fc.property(pattern, subject, (p, s) => {
        assert.equal(subjectMatches(p, s), oracleMatches(p, s));
        assert.equal(new SubjectMatcher([p]).matches(s), oracleMatches(p, s));
      }),
      { numRuns: 2000 },
    );
  });

  it('two patterns overlap exactly when some subject matches both (property, brute force over every subject)', () => {
    fc.assert(
      fc.property(pattern, pattern, (a, b) => {
        const witness = ALL_SUBJECTS.some((s) => oracleMatches(a, s) && oracleMatches(b, s));
        assert.equal(patternsOverlap(a, b), witness, `${a} vs ${b}`);
        assert.equal(patternsOverlap(b, a), witness);
      }),
      { numRuns: 2000 },
    );
    assert.ok(!patternsOverlap('a.>', 'a'));
    assert.ok(patternsOverlap('a.>', 'a.*.b'));
    assert.ok(!patternsOverlap('a.*', 'b.*'));
  });

  it('a matcher over several patterns matches a subject that any of them matches', () => {
    const m = new SubjectMatcher(['orders.created', 'payments.*', 'audit.>']);
    assert.ok(m.matches('orders.created'));
    assert.ok(m.matches('payments.eu'));
    assert.ok(m.matches('audit.x.y'));
    assert.ok(!m.matches('orders.deleted'));
    assert.ok(!m.matches('payments'));
    assert.ok(!new SubjectMatcher(['a']).matches('b'));
  });
});
