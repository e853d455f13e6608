import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Principal } from '../../transport/principal.js';
import {
  CompiledPolicy,
  type Decision,
  KV_SERVICE_RULE,
  MEMBERS_RULE,
  type Permission,
  QUEUE_SERVICE_RULE,
} from './decision.js';
import { covered, intersects, type KeySpan, prefixSpan } from './key-spans.js';
import { type Policy, type PolicyRule, validatePolicy } from './policy.js';

const P = {
  aliceTls: { name: 'alice', groups: [], via: 'tls', authenticated: true },
  bobKey: { name: 'bob', groups: [], via: 'key', authenticated: true },
  abeToken: { name: 'abe', groups: ['dev'], via: 'token', authenticated: true },
  carolToken: { name: 'carol', groups: ['ops'], via: 'token', authenticated: true },
  fakeAlice: { name: 'alice', groups: ['ops'], via: 'none', authenticated: false },
  anon: { name: 'anon', groups: [], via: 'none', authenticated: false },
} satisfies Record<string, Principal>;
const PRINCIPALS: Principal[] = Object.values(P);

// ---- an independent oracle: the policy language as the docs state it, by brute force ----------

function segmentsMatch(p: string[], n: string[]): boolean {
  if (p.length === 0) return n.length === 0;
  if (p[0] === '**') {
    for (let k = 0; k <= n.length; k++) if (segmentsMatch(p.slice(1), n.slice(k))) return true;
    return false;
  }
  return n.length > 0 && (p[0] === '*' || p[0] === n[0]) && segmentsMatch(p.slice(1), n.slice(1));
}
const nameMatches = (pattern: string, name: string) =>
  pattern.startsWith('$') === name.startsWith('$') && segmentsMatch(pattern.split('.'), name.split('.'));

function principalMatches(policy: Policy, pattern: string, p: Principal): boolean {
  if (pattern === 'unauthenticated') return !p.authenticated;
  if (pattern.startsWith('group:')) {
    const g = pattern.slice(6);
    return (
      (p.authenticated && p.groups.includes(g)) ||
      (policy.groups?.[g] ?? []).some((q) => principalMatches(policy, q, p))
    );
  }
  if (!p.authenticated) return false;
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return p.name.startsWith(pattern.slice(0, -1));
  return p.name === pattern;
}
const ruleFor = (policy: Policy, r: PolicyRule, p: Principal) =>
  r.principals.some((q) => principalMatches(policy, q, p));

/** Every key over {a,b,c} up to 3 long: exact for prefixes and bounds over {a,b} (see key-spans.ts). */
const UNIVERSE: string[] = [''];
for (let len = 1; len <= 3; len++) {
  const prev = UNIVERSE.filter((k) => k.length === len - 1);
  for (const k of prev) for (const c of 'abc') UNIVERSE.push(k + c);
}

function oracle(policy: Policy, p: Principal, perm: Permission): { allowed: boolean; rule?: string } {
  const member =
    policy.members === undefined
      ? p.authenticated && ['key', 'secret', 'tls'].includes(p.via)
      : policy.members.some((q) => principalMatches(policy, q, p));
  const byMembership = () => (member ? { allowed: true, rule: MEMBERS_RULE } : { allowed: false });
  const deny = policy.deny ?? [];
  if (perm.kind === 'internal') return byMembership();
  if (perm.kind === 'kvAny')
    return member
      ? { allowed: true, rule: MEMBERS_RULE }
      : ((r) => (r ? { allowed: true, rule: r.name } : { allowed: false }))(
          policy.allow.find((r) => (r.kvRead || r.kvWrite) && ruleFor(policy, r, p)),
        );
  if (perm.kind === 'kvRead' || perm.kind === 'kvWrite') {
    const { from, to } = perm.span;
    const keys = to !== null && to <= from ? [from] : UNIVERSE.filter((k) => k >= from && (to === null || k < to));
    const hits = (r: PolicyRule) => keys.filter((k) => (r[perm.kind] ?? []).some((x) => k.startsWith(x)));
    const d = deny.find((r) => ruleFor(policy, r, p) && hits(r).length > 0);
    if (d) return { allowed: false, rule: d.name };
    const mine = policy.allow.filter((r) => ruleFor(policy, r, p) && r[perm.kind]);
    const ok = keys.every((k) => mine.some((r) => r[perm.kind]!.some((x) => k.startsWith(x))));
    const first = mine.find((r) => hits(r).length > 0);
    return ok && first ? { allowed: true, rule: first.name } : { allowed: false };
  }
  let field: 'call' | 'emit' | 'subscribe' | 'queuePublish' | 'queueConsume' | 'queueAdmin';
  let name: string;
  if (perm.kind === 'call') {
    if (perm.action.startsWith('$kv.')) return { allowed: true, rule: KV_SERVICE_RULE };
    if (perm.action.startsWith('$queue.')) return { allowed: true, rule: QUEUE_SERVICE_RULE };
    if (perm.action.startsWith('$') && (!perm.action.startsWith('$node.') || member)) return byMembership();
    field = 'call';
    name = perm.action;
  } else if (perm.kind === 'emit' || perm.kind === 'subscribe') {
    field = perm.kind;
    name = perm.event;
  } else {
    const q = perm as { kind: 'queuePublish' | 'queueConsume' | 'queueAdmin'; stream: string };
    field = q.kind;
    name = q.stream;
  }
  const hit = (r: PolicyRule) => ruleFor(policy, r, p) && (r[field] ?? []).some((x) => nameMatches(x, name));
  const d = deny.find(hit);
  if (d) return { allowed: false, rule: d.name };
  const a = policy.allow.find(hit);
  return a ? { allowed: true, rule: a.name } : { allowed: false };
}

// ---- generators ------------------------------------------------------------------------------

const PRINCIPAL_PATTERNS = ['alice', 'bob', 'a*', '*', 'group:ops', 'group:dev', 'unauthenticated', 'carol'];
const CALL_PATTERNS = ['billing.charge', 'billing.*', '**', 'orders.**', '$node.info', '$node.*', '*.get'];
const EVENT_PATTERNS = ['order.created', 'order.*', '**', 'user.**'];
const PREFIXES = ['', 'a', 'ab', 'b', 'ba', 'aab', 'bb', 'aa'];
const ACTIONS = [
  'billing.charge',
  'billing.refund',
  'orders.get',
  'orders.a.b',
  '$node.info',
  '$node.ping',
  '$raft.step',
  '$cluster.add',
  '$kv.put',
  '$queue.publish',
  'x',
];
const EVENTS = ['order.created', 'order.paid', 'user.a.b', 'x'];
const AB = fc.stringMatching(/^[ab]{0,3}$/);

const list = <T>(arb: fc.Arbitrary<T>) =>
  fc.option(fc.uniqueArray(arb, { minLength: 1, maxLength: 3 }), { nil: undefined });
const ruleArb = fc.record({
  principals: fc.uniqueArray(fc.constantFrom(...PRINCIPAL_PATTERNS), { minLength: 1, maxLength: 3 }),
  call: list(fc.constantFrom(...CALL_PATTERNS)),
  emit: list(fc.constantFrom(...EVENT_PATTERNS)),
  subscribe: list(fc.constantFrom(...EVENT_PATTERNS)),
  kvRead: list(fc.constantFrom(...PREFIXES)),
  kvWrite: list(fc.constantFrom(...PREFIXES)),
  queuePublish: list(fc.constantFrom(...EVENT_PATTERNS)),
  queueConsume: list(fc.constantFrom(...EVENT_PATTERNS)),
  queueAdmin: list(fc.constantFrom(...EVENT_PATTERNS)),
});
const policyArb = fc
  .record({
    deny: fc.array(ruleArb, { maxLength: 2 }),
    allow: fc.array(ruleArb, { maxLength: 4 }),
    members: fc.option(fc.uniqueArray(fc.constantFrom('alice', 'b*', 'group:ops'), { minLength: 1 }), {
      nil: undefined,
    }),
    withGroups: fc.boolean(),
  })
  .map(({ deny, allow, members, withGroups }) => {
    const clean = (r: Record<string, unknown>, name: string) => {
      const out: Record<string, unknown> = { name };
      for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
      if (Object.keys(out).length === 2) out.call = ['nothing.here'];
      return out;
    };
    return validatePolicy({
      version: 1,
      ...(withGroups ? { groups: { ops: ['alice'], dev: ['b*', 'unauthenticated'] } } : {}),
      ...(members ? { members } : {}),
      deny: deny.map((r, i) => clean(r, `deny-${i}`)),
      allow: allow.map((r, i) => clean(r, `allow-${i}`)),
    });
  });
const spanArb: fc.Arbitrary<KeySpan> = fc.record({ from: AB, to: fc.option(AB, { nil: null }) });
const permissionArb: fc.Arbitrary<Permission> = fc.oneof(
  fc.constantFrom(...ACTIONS).map((action) => ({ kind: 'call' as const, action })),
  fc.constantFrom(...EVENTS).map((event) => ({ kind: 'emit' as const, event })),
  fc.constantFrom(...EVENTS).map((event) => ({ kind: 'subscribe' as const, event })),
  fc
    .tuple(fc.constantFrom('queuePublish', 'queueConsume', 'queueAdmin'), fc.constantFrom(...EVENTS))
    .map(([kind, stream]) => ({ kind, stream })),
  spanArb.map((span) => ({ kind: 'kvRead' as const, span })),
  spanArb.map((span) => ({ kind: 'kvWrite' as const, span })),
  fc.constant({ kind: 'kvAny' as const }),
  fc.constantFrom('$raft.step', '$kv.compact').map((action) => ({ kind: 'internal' as const, action })),
);

const short = (d: Decision) =>
  d.allowed ? { allowed: true, rule: d.rule } : { allowed: false, ...(d.rule ? { rule: d.rule } : {}) };

describe('authorization policy: decisions', () => {
  it('agrees with a brute-force oracle on random policies, principals and permissions (property)', () => {
    fc.assert(
      fc.property(policyArb, fc.array(permissionArb, { minLength: 1, maxLength: 4 }), (policy, permissions) => {
        // One compiled policy for every principal, each asked twice: cached answers must agree too.
        const compiled = new CompiledPolicy(policy);
        for (let round = 0; round < 2; round++)
          for (const permission of permissions)
            for (const principal of PRINCIPALS) {
              const got = short(compiled.decide(principal, permission));
              const want = oracle(policy, principal, permission);
              assert.deepEqual(got, want, JSON.stringify({ round, policy, principal, permission }));
            }
      }),
      { numRuns: 1500 },
    );
  });

  it('key spans: covered and intersects are exact over a complete key universe (property)', () => {
    fc.assert(
      fc.property(fc.array(AB, { maxLength: 4 }), spanArb, (prefixes, span) => {
        const keys = UNIVERSE.filter((k) => k >= span.from && (span.to === null || k < span.to));
        const grants = prefixes.map(prefixSpan);
        const want = keys.every((k) => prefixes.some((p) => k.startsWith(p)));
        assert.equal(covered(span, grants), want);
        for (const p of prefixes)
          assert.equal(
            intersects(prefixSpan(p), span),
            keys.some((k) => k.startsWith(p)),
          );
      }),
      { numRuns: 2000 },
    );
  });

  const policy = new CompiledPolicy(
    validatePolicy({
      version: 1,
      groups: { finance: ['fin-*'] },
      deny: [{ name: 'no-billing-for-interns', principals: ['intern-*'], call: ['billing.**'], kvRead: ['billing/'] }],
      allow: [
        { name: 'everyone-reads-config', principals: ['*'], kvRead: ['config/'] },
        {
          name: 'finance',
          principals: ['group:finance', 'intern-*'],
          call: ['billing.*'],
          kvRead: ['billing/'],
          kvWrite: ['billing/'],
        },
        { name: 'guests-ping', principals: ['unauthenticated'], call: ['$node.ping'] },
      ],
    }),
  );
  const tok = (name: string, groups: string[] = []): Principal => ({ name, groups, via: 'token', authenticated: true });

  it('deny wins over allow, and names the rule', () => {
    const d = policy.decide(tok('intern-1'), { kind: 'call', action: 'billing.charge' });
    assert.deepEqual(d, {
      allowed: false,
      rule: 'no-billing-for-interns',
      reason: "denied by rule 'no-billing-for-interns'",
    });
    assert.deepEqual(policy.decide(tok('fin-1'), { kind: 'call', action: 'billing.charge' }), {
      allowed: true,
      rule: 'finance',
    });
  });

  it('default deny: nothing matched says so and names the principal', () => {
    const d = policy.decide(tok('fin-1'), { kind: 'call', action: 'orders.create' });
    assert.equal(d.allowed, false);
    assert.ok(!d.allowed && d.rule === undefined && /no rule allows 'fin-1' to call 'orders.create'/.test(d.reason));
  });

  it('an unauthenticated principal matches only `unauthenticated`, whatever name or groups it claims', () => {
    const claimed: Principal = { name: 'fin-1', groups: ['finance'], via: 'none', authenticated: false };
    assert.equal(policy.decide(claimed, { kind: 'call', action: 'billing.charge' }).allowed, false);
    assert.equal(policy.decide(claimed, { kind: 'kvRead', span: prefixSpan('config/') }).allowed, false);
    assert.deepEqual(policy.decide(claimed, { kind: 'call', action: '$node.ping' }), {
      allowed: true,
      rule: 'guests-ping',
    });
    const other: Principal = { name: 'x-2', groups: [], via: 'none', authenticated: false };
    for (const p of [claimed, other, claimed]) {
      const d = policy.decide(p, { kind: 'call', action: 'orders.list' });
      assert.ok(
        !d.allowed && d.reason.includes(`unauthenticated peer '${p.name}'`),
        'a cached denial names its own peer',
      );
    }
  });

  it('internal actions: members only (default: key, secret or TLS), never through a rule or a wildcard', () => {
    const node: Principal = { name: 'n1', groups: [], via: 'key', authenticated: true };
    assert.deepEqual(policy.decide(node, { kind: 'call', action: '$raft.step' }), {
      allowed: true,
      rule: MEMBERS_RULE,
    });
    assert.deepEqual(policy.decide(node, { kind: 'call', action: '$node.info' }), {
      allowed: true,
      rule: MEMBERS_RULE,
    });
    for (const p of [tok('fin-1'), tok('admin', ['finance'])]) {
      assert.equal(policy.decide(p, { kind: 'call', action: '$cluster.remove' }).allowed, false);
      assert.equal(policy.decide(p, { kind: 'call', action: '$node.info' }).allowed, false);
    }
    const wide = new CompiledPolicy(
      validatePolicy({ version: 1, allow: [{ name: 'all', principals: ['*'], call: ['**'] }] }),
    );
    assert.equal(wide.decide(tok('x'), { kind: 'call', action: '$raft.step' }).allowed, false);
    assert.equal(wide.decide(tok('x'), { kind: 'call', action: '$node.nodes' }).allowed, false);
    assert.equal(wide.decide(tok('x'), { kind: 'call', action: 'any.thing' }).allowed, true);
  });

  it('KV: prefix boundaries, open-ended ranges and deny overlap', () => {
    const fin = tok('fin-1');
    const read = (from: string, to: string | null) =>
      policy.decide(fin, { kind: 'kvRead', span: { from, to } }).allowed;
    assert.equal(read('billing/', 'billing0'), true); // exactly the prefix
    assert.equal(read('billing/', 'billing1'), false); // one key past it: 'billing0'
    assert.equal(read('billing/a', null), false); // open-ended: every key above, the etcd fromKey class
    assert.equal(read('billing', 'billing/'), false); // 'billing' itself is outside 'billing/'
    assert.equal(read('config/x', 'config/y'), true);
    assert.equal(read('billing/x', 'config/'), false); // crosses the gap between the grants
    assert.equal(policy.decide(tok('intern-1'), { kind: 'kvRead', span: { from: 'a', to: null } }).allowed, false);
  });
});

describe('authorization policy: validation', () => {
  const bad: [unknown, RegExp][] = [
    [null, /\(top level\)/],
    [{ version: 2, allow: [] }, /version must be 1/],
    [{ version: 1 }, /allow is required/],
    [{ version: 1, allow: [], extra: 1 }, /extra is not a known field/],
    [{ version: 1, allow: [{ name: 'a', principals: ['*'], call: [3] }] }, /allow\[0\]\.call\[0\] must be a string/],
    [{ version: 1, allow: [{ name: 'a', principals: ['*'], cal: ['x'] }] }, /allow\[0\]\.cal is not a known field/],
    [{ version: 1, allow: [{ name: 'a', principals: ['*'] }] }, /allow\[0\] \(rule 'a'\) names no permission/],
    [{ version: 1, allow: [{ name: 'a', call: ['x'] }] }, /allow\[0\]\.principals is required/],
    [{ version: 1, allow: [{ principals: ['*'], call: ['x'] }] }, /allow\[0\]\.name must be a non-empty string/],
    [
      {
        version: 1,
        deny: [{ name: 'a', principals: ['*'], call: ['x'] }],
        allow: [{ name: 'a', principals: ['*'], call: ['y'] }],
      },
      /allow\[0\]\.name 'a' is used by another rule/,
    ],
    [{ version: 1, allow: [{ name: 'a', principals: ['a*b'], call: ['x'] }] }, /principals\[0\] 'a\*b'/],
    [
      { version: 1, allow: [{ name: 'a', principals: ['*'], call: ['bill*.x'] }] },
      /call\[0\] 'bill\*\.x': a wildcard is a whole segment/,
    ],
    [
      { version: 1, allow: [{ name: 'a', principals: ['*'], call: ['$raft.step'] }] },
      /\$raft is reachable only by cluster members/,
    ],
    [{ version: 1, allow: [{ name: 'a', principals: ['*'], call: ['$kv.put'] }] }, /grant kvRead \/ kvWrite/],
    [
      { version: 1, allow: [{ name: 'a', principals: ['*'], call: ['$queue.publish'] }] },
      /\$queue is checked per stream; grant queuePublish/,
    ],
    [{ version: 1, members: ['unauthenticated'], allow: [] }, /members\[0\] must not be or contain 'unauthenticated'/],
    [
      { version: 1, groups: { guests: ['unauthenticated'] }, members: ['x', 'group:guests'], allow: [] },
      /members\[1\] must not be or contain 'unauthenticated' \(group guests lists it\)/,
    ],
    [{ version: 1, groups: { g: ['group:h'] }, allow: [] }, /groups\.g\[0\].*cannot contain another group/],
    [{ version: 1, allow: [{ name: 'a', principals: [], call: ['x'] }] }, /allow\[0\]\.principals must not be empty/],
  ];
  for (const [policy, message] of bad) {
    it(`refuses ${JSON.stringify(policy)}`, () => {
      assert.throws(
        () => validatePolicy(policy),
        (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && message.test(err.message),
      );
    });
  }

  it('the example of docs/SECURITY.md is a valid policy that means what the page says', () => {
    const page = readFileSync(fileURLToPath(new URL('../../../../docs/SECURITY.md', import.meta.url)), 'utf8');
    const section = page.slice(page.indexOf('## Authorization'));
    const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(json, 'the Authorization section has a JSON example');
    const example = new CompiledPolicy(validatePolicy(JSON.parse(json)));
    const tok = (name: string, groups: string[] = []): Principal => ({
      name,
      groups,
      via: 'token',
      authenticated: true,
    });
    assert.equal(example.decide(tok('fin-1'), { kind: 'call', action: 'billing.charge' }).allowed, true);
    assert.equal(example.decide(tok('intern-fin-1'), { kind: 'call', action: 'billing.charge' }).allowed, false);
    assert.equal(example.decide(tok('boss', ['admins']), { kind: 'call', action: 'billing.refund' }).allowed, true);
    assert.equal(example.decide(tok('web-1'), { kind: 'kvRead', span: prefixSpan('config/secret/') }).allowed, false);
    assert.equal(example.decide(tok('web-1'), { kind: 'kvRead', span: prefixSpan('config/ui/') }).allowed, true);
    assert.equal(example.decide(tok('kv-1'), { kind: 'call', action: '$raft.step' }).allowed, true);
    assert.equal(example.decide({ ...tok('n1'), via: 'key' }, { kind: 'call', action: '$raft.step' }).allowed, false);
  });

  it('the queue example of docs/SECURITY.md means what the page says', () => {
    const page = readFileSync(fileURLToPath(new URL('../../../../docs/SECURITY.md', import.meta.url)), 'utf8');
    const json = /```json\n([\s\S]*?)```/.exec(page.slice(page.indexOf('### Queues')))?.[1];
    assert.ok(json, 'the Queues section has a JSON example');
    const example = new CompiledPolicy(validatePolicy(JSON.parse(json)));
    const tok = (name: string, groups: string[] = []): Principal => ({
      name,
      groups,
      via: 'token',
      authenticated: true,
    });
    const may = (p: Principal, kind: 'queuePublish' | 'queueConsume' | 'queueAdmin', stream: string) =>
      example.decide(p, { kind, stream }).allowed;
    assert.equal(may(tok('shop-1'), 'queuePublish', 'orders'), true);
    assert.equal(may(tok('shop-1'), 'queuePublish', 'payments'), false);
    assert.equal(may(tok('billing'), 'queueConsume', 'orders'), true);
    assert.equal(may(tok('billing'), 'queuePublish', 'orders'), false);
    assert.equal(may(tok('billing'), 'queueConsume', 'audit'), false);
    assert.equal(may(tok('eve', ['ops']), 'queueAdmin', 'payments'), true);
    assert.equal(example.decide(tok('shop-1'), { kind: 'call', action: '$queue.publish' }).allowed, true);
  });

  it('accepts a complete policy and keeps what it was given', () => {
    const text = {
      version: 1,
      description: 'x',
      groups: { ops: ['alice', 'ops-*'] },
      members: ['server-*'],
      deny: [{ name: 'd', principals: ['group:ops'], emit: ['audit.**'] }],
      allow: [
        {
          name: 'a',
          description: 'y',
          principals: ['*', 'unauthenticated'],
          call: ['$node.ping', 'a.*'],
          emit: ['x'],
          subscribe: ['**'],
          kvRead: [''],
          kvWrite: ['k/'],
          queuePublish: ['s'],
          queueConsume: ['s.*'],
          queueAdmin: ['s'],
        },
      ],
    };
    assert.deepEqual(validatePolicy(text), text);
  });
});
