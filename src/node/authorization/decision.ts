import type { Principal } from '../../transport/principal.js';
import { compilePattern } from '../event-pattern.js';
import { covered, intersects, type KeySpan, normalizeSpan, prefixSpan, utf8ByteString } from './key-spans.js';
import { PATTERN_FIELDS, type PatternField, type Policy, type PolicyRule, type PrefixField } from './policy.js';

/**
 * What a principal asks to do. KV spans are byte strings (see key-spans.ts); `kvAny` asks whether
 * the principal holds any KV grant at all (status, lease grant and keep-alive); `internal` is an
 * operation only cluster members may perform.
 */
export type Permission =
  | { readonly kind: 'call'; readonly action: string }
  /** May this principal's node be sent calls of `action` (does it serve it)? */
  | { readonly kind: 'serve'; readonly action: string }
  | { readonly kind: 'emit' | 'subscribe'; readonly event: string }
  | { readonly kind: 'queuePublish' | 'queueConsume' | 'queueAdmin'; readonly stream: string }
  | { readonly kind: 'kvRead' | 'kvWrite'; readonly span: KeySpan }
  | { readonly kind: 'kvAny' }
  | { readonly kind: 'internal'; readonly action: string };

export type PermissionKind = Permission['kind'];

/** The answer: allowed (by which rule), or denied (by which rule, or because none allows it). */
export type Decision =
  | { readonly allowed: true; readonly rule: string }
  | {
      readonly allowed: false;
      /** The deny rule that refused; absent when no allow rule matched (default deny). */
      readonly rule?: string;
      readonly reason: string;
    };

/** The rule names of decisions no written rule made. */
export const MEMBERS_RULE = '(members)';
export const KV_SERVICE_RULE = '(checked per key by $kv)';
export const QUEUE_SERVICE_RULE = '(checked per stream by $queue)';

type PrincipalMatcher = (p: Principal) => boolean;

interface DecisionCache {
  readonly authenticated: Map<string, WeakMap<Principal, Decision>>;
  readonly unauthenticated: Map<string, Decision>;
}
const newCache = (): DecisionCache => ({ authenticated: new Map(), unauthenticated: new Map() });
/** Targets (actions, events) whose decisions a cache keeps; past it the cache starts over. */
const MAX_CACHED_TARGETS = 10_000;
type NameMatcher = (name: string) => boolean;

interface CompiledRule {
  readonly name: string;
  readonly principals: PrincipalMatcher;
  readonly patterns: Partial<Record<PatternField, NameMatcher>>;
  readonly spans: Partial<Record<PrefixField, KeySpan[]>>;
}

/** Principals authenticated this way are cluster members when the policy lists none. */
const MEMBER_SOURCES: readonly Principal['via'][] = ['key', 'secret', 'tls'];

/**
 * A validated policy compiled for fast decisions: pattern strings become matchers, prefixes
 * become key spans, groups are resolved.
 *
 * Invariants (the order of evaluation): a `$`-internal call or an `internal` permission is allowed
 * exactly to members, whatever the rules say (except `$kv` and `$queue` calls, allowed here and
 * checked per key / per stream by those services); otherwise the first deny rule whose principals and
 * target match refuses; otherwise an allow rule that matches permits; otherwise it is denied. An
 * unauthenticated principal matches only the pattern `unauthenticated` (directly or through a
 * group listing it): a claimed name never matches a name pattern, and its claimed groups are ignored.
 */
export class CompiledPolicy {
  private readonly deny: CompiledRule[];
  private readonly allow: CompiledRule[];
  private readonly memberMatcher: PrincipalMatcher;
  private readonly calls = newCache();
  private readonly serves = newCache();
  private readonly events = { emit: newCache(), subscribe: newCache() };

  constructor(readonly policy: Policy) {
    const groups = new Map<string, PrincipalMatcher>();
    for (const [name, patterns] of Object.entries(policy.groups ?? {}))
      groups.set(name, principalMatcher(patterns, new Map()));
    this.deny = (policy.deny ?? []).map((r) => compileRule(r, groups));
    this.allow = policy.allow.map((r) => compileRule(r, groups));
    this.memberMatcher =
      policy.members === undefined
        ? (p) => p.authenticated && MEMBER_SOURCES.includes(p.via)
        : principalMatcher(policy.members, groups);
  }

  isMember(principal: Principal): boolean {
    return this.memberMatcher(principal);
  }

  decide(principal: Principal, permission: Permission): Decision {
    switch (permission.kind) {
      case 'call':
        return this.cached(this.calls, principal, permission.action, () =>
          this.decideCall(principal, permission.action),
        );
      case 'serve':
        return this.cached(this.serves, principal, permission.action, () =>
          this.decideServe(principal, permission.action),
        );
      case 'internal':
        return this.members(principal, `'${permission.action}' is reachable only by cluster members`);
      case 'emit':
      case 'subscribe':
        return this.cached(this.events[permission.kind], principal, permission.event, () =>
          this.decideName(principal, permission.kind, permission.event),
        );
      case 'queuePublish':
      case 'queueConsume':
      case 'queueAdmin':
        return this.decideName(principal, permission.kind, permission.stream);
      case 'kvRead':
      case 'kvWrite':
        return this.decideSpan(principal, permission.kind, normalizeSpan(permission.span));
      case 'kvAny':
        return this.decideKvAny(principal);
    }
  }

  /**
   * Decisions by name are cached per target: for an authenticated principal per principal object
   * (the mesh hands out one object per authenticated connection), for an unauthenticated one per
   * target alone (it matches only `unauthenticated`, whatever it is called). Denials of
   * unauthenticated principals are decided again, so their message names the right peer.
   */
  private cached(cache: DecisionCache, principal: Principal, target: string, decide: () => Decision): Decision {
    if (!principal.authenticated) {
      const hit = cache.unauthenticated.get(target);
      if (hit !== undefined) return hit.allowed ? hit : decide();
      const d = decide();
      if (cache.unauthenticated.size >= MAX_CACHED_TARGETS) cache.unauthenticated.clear();
      cache.unauthenticated.set(target, d);
      return d;
    }
    let perPrincipal = cache.authenticated.get(target);
    const hit = perPrincipal?.get(principal);
    if (hit !== undefined) return hit;
    const d = decide();
    if (perPrincipal === undefined) {
      if (cache.authenticated.size >= MAX_CACHED_TARGETS) cache.authenticated.clear();
      cache.authenticated.set(target, (perPrincipal = new WeakMap()));
    }
    perPrincipal.set(principal, d);
    return d;
  }

  private members(principal: Principal, reason: string): Decision {
    if (this.isMember(principal)) return { allowed: true, rule: MEMBERS_RULE };
    return { allowed: false, reason };
  }

  /** Members serve every action; others only what a rule lets them serve, and never a `$` action. */
  private decideServe(principal: Principal, action: string): Decision {
    if (this.isMember(principal)) return { allowed: true, rule: MEMBERS_RULE };
    if (action.startsWith('$')) {
      return { allowed: false, reason: `'${action}' is an internal action, served only by cluster members` };
    }
    return this.decideName(principal, 'serve', action);
  }

  private decideCall(principal: Principal, action: string): Decision {
    if (action.startsWith('$')) {
      if (action.startsWith('$kv.')) return { allowed: true, rule: KV_SERVICE_RULE };
      if (action.startsWith('$queue.')) return { allowed: true, rule: QUEUE_SERVICE_RULE };
      // $node introspection: members, or a rule that names $node explicitly (wildcards never reach `$`).
      if (!action.startsWith('$node.') || this.isMember(principal)) {
        return this.members(principal, `'${action}' is an internal action, reachable only by cluster members`);
      }
    }
    return this.decideName(principal, 'call', action);
  }

  private decideName(principal: Principal, kind: PatternField, name: string): Decision {
    for (const r of this.deny) {
      const m = r.patterns[kind];
      if (m?.(name) && r.principals(principal))
        return { allowed: false, rule: r.name, reason: `denied by rule '${r.name}'` };
    }
    for (const r of this.allow) {
      const m = r.patterns[kind];
      if (m?.(name) && r.principals(principal)) return { allowed: true, rule: r.name };
    }
    return { allowed: false, reason: `no rule allows ${describe(principal)} to ${VERB[kind]} '${name}'` };
  }

  private decideSpan(principal: Principal, kind: PrefixField, span: KeySpan): Decision {
    for (const r of this.deny) {
      const spans = r.spans[kind];
      if (spans && r.principals(principal) && spans.some((s) => intersects(s, span)))
        return { allowed: false, rule: r.name, reason: `denied by rule '${r.name}'` };
    }
    // Grants add up across rules: the span must lie inside their union.
    const grants: KeySpan[] = [];
    let first: string | undefined;
    for (const r of this.allow) {
      const spans = r.spans[kind];
      if (!spans || !r.principals(principal)) continue;
      if (first === undefined && spans.some((s) => intersects(s, span))) first = r.name;
      grants.push(...spans);
    }
    if (first !== undefined && covered(span, grants)) return { allowed: true, rule: first };
    return { allowed: false, reason: `no rule allows ${describe(principal)} to ${VERB[kind]} ${describeSpan(span)}` };
  }

  private decideKvAny(principal: Principal): Decision {
    if (this.isMember(principal)) return { allowed: true, rule: MEMBERS_RULE };
    for (const r of this.allow) {
      if ((r.spans.kvRead || r.spans.kvWrite) && r.principals(principal)) return { allowed: true, rule: r.name };
    }
    return { allowed: false, reason: `no rule gives ${describe(principal)} any KV permission` };
  }
}

const VERB: Record<PatternField | PrefixField, string> = {
  call: 'call',
  serve: 'serve',
  emit: 'emit',
  subscribe: 'receive',
  queuePublish: 'publish to stream',
  queueConsume: 'consume stream',
  queueAdmin: 'administer stream',
  kvRead: 'read',
  kvWrite: 'write',
};

function describe(p: Principal): string {
  return p.authenticated ? `'${p.name}'` : `unauthenticated peer '${p.name}'`;
}

/** A span for messages, bytes above 0x7e escaped. */
export function describeSpan(span: KeySpan): string {
  const show = (s: string) =>
    JSON.stringify(s).replace(/[\u007f-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
  if (span.to === `${span.from}\0`) return `key ${show(span.from)}`;
  return `keys [${show(span.from)}, ${span.to === null ? 'end' : show(span.to)})`;
}

function compileRule(rule: PolicyRule, groups: ReadonlyMap<string, PrincipalMatcher>): CompiledRule {
  const patterns: Partial<Record<PatternField, NameMatcher>> = {};
  for (const field of PATTERN_FIELDS) {
    const list = rule[field];
    if (list) patterns[field] = nameMatcher(list);
  }
  const spans: Partial<Record<PrefixField, KeySpan[]>> = {};
  if (rule.kvRead) spans.kvRead = rule.kvRead.map((p) => prefixSpan(utf8ByteString(p)));
  if (rule.kvWrite) spans.kvWrite = rule.kvWrite.map((p) => prefixSpan(utf8ByteString(p)));
  return { name: rule.name, principals: principalMatcher(rule.principals, groups), patterns, spans };
}

/**
 * Event-pattern syntax (event-pattern.ts), with one rule for `$` names: a `$` name is matched
 * only by patterns that start with `$` themselves, so `**` never reaches an internal service.
 */
function nameMatcher(patterns: readonly string[]): NameMatcher {
  const plain = patterns.filter((p) => !p.startsWith('$')).map(compilePattern);
  const internal = patterns.filter((p) => p.startsWith('$')).map(compilePattern);
  return (name) => (name.startsWith('$') ? internal : plain).some((m) => m(name));
}

function principalMatcher(
  patterns: readonly string[],
  groups: ReadonlyMap<string, PrincipalMatcher>,
): PrincipalMatcher {
  const matchers = patterns.map((pattern): PrincipalMatcher => {
    if (pattern === 'unauthenticated') return (p) => !p.authenticated;
    if (pattern.startsWith('group:')) {
      const name = pattern.slice('group:'.length);
      const defined = groups.get(name);
      return (p) => (p.authenticated && p.groups.includes(name)) || (defined?.(p) ?? false);
    }
    if (pattern === '*') return (p) => p.authenticated;
    if (pattern.endsWith('*')) {
      const prefix = pattern.slice(0, -1);
      return (p) => p.authenticated && p.name.startsWith(prefix);
    }
    return (p) => p.authenticated && p.name === pattern;
  });
  return (p) => matchers.some((m) => m(p));
}

/** The decision function of a policy: validates nothing (see `validatePolicy`). */
export function decide(policy: CompiledPolicy, principal: Principal, permission: Permission): Decision {
  return policy.decide(principal, permission);
}
