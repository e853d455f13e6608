import { ParleyError } from '../wire/parley-error.js';

/**
 * Subjects and subject patterns (docs/QUEUES.md, "Limits"). A subject is tokens of
 * `[A-Za-z0-9_-]+` separated by `.` (`orders.eu.created`); a pattern may also use `*` as a whole
 * token (exactly one token) and `>` as its last token (one or more tokens: the rest).
 *
 * Invariants: a string accepted by `subjectProblem` contains no wildcard, so it matches a
 * pattern only through the pattern's wildcards; `subjectMatches(p, s)` holds exactly when `s`
 * has the token count `p` asks for and every literal token of `p` equals `s`'s at that place;
 * `patternsOverlap(a, b)` holds exactly when some subject matches both (what two streams may
 * not share).
 */

/** Longest subject or pattern, in characters. */
export const MAX_SUBJECT_CHARS = 256;
/** Most tokens in a subject or pattern. */
export const MAX_SUBJECT_TOKENS = 16;

const TOKEN = /^[A-Za-z0-9_-]+$/;

function shape(s: unknown, wildcards: boolean): string | undefined {
  if (typeof s !== 'string') return 'must be a string';
  if (s.length === 0 || s.length > MAX_SUBJECT_CHARS) return `must be 1..${MAX_SUBJECT_CHARS} characters`;
  const tokens = s.split('.');
  if (tokens.length > MAX_SUBJECT_TOKENS) return `has ${tokens.length} tokens; at most ${MAX_SUBJECT_TOKENS}`;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.length === 0) return 'has an empty token (two dots, or a dot at an end)';
    if (t === '*' || t === '>') {
      if (!wildcards)
        return `uses the wildcard '${t}' (a published subject names one subject; wildcards are for patterns)`;
      if (t === '>' && i !== tokens.length - 1) return "uses '>' before the last token ('>' matches the rest)";
      continue;
    }
    if (!TOKEN.test(t)) {
      return `has the token '${t.slice(0, 32)}'; tokens are letters, digits, '_' and '-' (and '*' or '>' alone in a pattern)`;
    }
  }
  return undefined;
}

/** What is wrong with a subject (no wildcards), or undefined. */
export function subjectProblem(s: unknown): string | undefined {
  return shape(s, false);
}

/** What is wrong with a subject pattern (`*`, `>` allowed), or undefined. */
export function patternProblem(p: unknown): string | undefined {
  return shape(p, true);
}

/** The subject, or INVALID_ARGUMENT naming `what` (e.g. 'messages[3].subject'). */
export function validateSubject(s: unknown, what = 'subject'): string {
  const problem = subjectProblem(s);
  if (problem !== undefined) throw new ParleyError('INVALID_ARGUMENT', `${what} ${problem}`);
  return s as string;
}

/** The pattern, or INVALID_ARGUMENT naming `what`. */
export function validatePattern(p: unknown, what = 'subject pattern'): string {
  const problem = patternProblem(p);
  if (problem !== undefined) throw new ParleyError('INVALID_ARGUMENT', `${what} ${problem}`);
  return p as string;
}

function tokensMatch(p: readonly string[], s: readonly string[]): boolean {
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Whether `subject` (no wildcards) matches `pattern`. Both are assumed valid. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  return tokensMatch(pattern.split('.'), subject.split('.'));
}

/** Whether some subject matches both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    if (i >= x.length || i >= y.length) return x.length === y.length;
    const s = x[i]!;
    const t = y[i]!;
    // '>' takes one or more tokens: the other side has at least one here, so anything after fits.
    if (s === '>' || t === '>') return true;
    if (s !== '*' && t !== '*' && s !== t) return false;
  }
}

/**
 * A matcher over a fixed list of patterns (a stream's subjects), split once: a publish tests
 * each message's subject against it.
 */
export class SubjectMatcher {
  private readonly exact = new Set<string>();
  private readonly wild: string[][] = [];

  constructor(readonly patterns: readonly string[]) {
    for (const p of patterns) {
      if (p.includes('*') || p.includes('>')) this.wild.push(p.split('.'));
      else this.exact.add(p);
    }
  }

  matches(subject: string): boolean {
    if (this.exact.has(subject)) return true;
    if (this.wild.length === 0) return false;
    const s = subject.split('.');
    for (const p of this.wild) if (tokensMatch(p, s)) return true;
    return false;
  }
}
