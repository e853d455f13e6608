import { createRequire } from 'node:module';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * The authorization policy as users write it (a JSON file or an object), and its validation.
 *
 * Invariant: `validatePolicy` either returns a policy every later step can trust (every field of
 * the right type, every pattern well formed, rule names unique, no unknown field) or throws one
 * INVALID_ARGUMENT ParleyError naming the bad field by its path (`allow[2].call[0]`). It never
 * throws anything else, so a broken file can be refused without knowing why in advance.
 */

/** A policy: groups of principals, who the cluster members are, and rules (deny first, then allow). */
export interface Policy {
  /** The policy language version; 1 is the only one. */
  readonly version: 1;
  readonly description?: string;
  /** Named groups of principal patterns, used as `group:<name>` in rules. */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  /**
   * Who the cluster members are: the only principals that reach `$raft`, `$cluster`, `$kv.compact`
   * and write the registry. Default: any principal authenticated by a node key, the cluster secret
   * or a TLS certificate (nodes, never token clients or unauthenticated peers).
   */
  readonly members?: readonly string[];
  /** Checked first: the first matching deny rule refuses. */
  readonly deny?: readonly PolicyRule[];
  /** Checked next: a matching allow rule permits; nothing matched = denied. */
  readonly allow: readonly PolicyRule[];
}

/**
 * One rule: who (`principals`) may (or, in `deny`, may not) do what. Within a rule a permission
 * matches when the principal matches one pattern of `principals` and the target one pattern of
 * the permission's list.
 */
export interface PolicyRule {
  readonly name: string;
  readonly description?: string;
  /**
   * Principal patterns: an exact name, `prefix*`, `*` (any authenticated principal),
   * `group:<name>`, or `unauthenticated` (the only pattern a peer without proof matches).
   */
  readonly principals: readonly string[];
  /** Actions (`service.action`, event-pattern wildcards `*` and `**`). */
  readonly call?: readonly string[];
  /**
   * Actions a principal may serve: calls are routed to a node only for actions its principal may
   * serve. Cluster members may serve every action without a rule; `$` actions only members serve.
   */
  readonly serve?: readonly string[];
  /** Event names a principal may send (emit and broadcast). */
  readonly emit?: readonly string[];
  /** Event names a principal may receive. */
  readonly subscribe?: readonly string[];
  /** KV key prefixes (UTF-8; "" = every key) a principal may read (range, watch, txn compares). */
  readonly kvRead?: readonly string[];
  /** KV key prefixes a principal may write (put, delete, txn writes, lease revoke). */
  readonly kvWrite?: readonly string[];
  /** Queue streams (names or patterns) a principal may publish to (`$queue.publish`, checked per stream). */
  readonly queuePublish?: readonly string[];
  /**
   * Queue streams a principal may consume: fetch, ack, consumer info, create and delete consumers.
   * Either queuePublish or queueConsume on a stream also lets a principal read its metadata.
   */
  readonly queueConsume?: readonly string[];
  /**
   * Queue streams a principal may administer: create, delete, read and replay dead letters.
   * Cluster members may without a rule.
   */
  readonly queueAdmin?: readonly string[];
}

export const PATTERN_FIELDS = [
  'call',
  'serve',
  'emit',
  'subscribe',
  'queuePublish',
  'queueConsume',
  'queueAdmin',
] as const;
export const PREFIX_FIELDS = ['kvRead', 'kvWrite'] as const;
export type PatternField = (typeof PATTERN_FIELDS)[number];
export type PrefixField = (typeof PREFIX_FIELDS)[number];
const RULE_FIELDS = ['name', 'description', 'principals', ...PATTERN_FIELDS, ...PREFIX_FIELDS];
const POLICY_FIELDS = ['version', 'description', 'groups', 'members', 'deny', 'allow'];

/** The `$` services a rule may name in `call`: the rest are internal (members only) or checked per key / stream. */
const CALLABLE_INTERNAL = ['$node'];

function bad(path: string, message: string): ParleyError {
  return new ParleyError('INVALID_ARGUMENT', `policy: ${path} ${message}`, { details: { field: path } });
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function noUnknownFields(x: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const k of Object.keys(x)) {
    if (!known.includes(k))
      throw bad(path === '' ? k : `${path}.${k}`, `is not a known field (known: ${known.join(', ')})`);
  }
}

function stringList(x: unknown, path: string, check: (s: string, path: string) => void, allowEmpty = false): string[] {
  if (!Array.isArray(x)) throw bad(path, 'must be a list of strings');
  if (x.length === 0 && !allowEmpty) throw bad(path, 'must not be empty (leave the field out instead)');
  return x.map((s, i) => {
    const at = `${path}[${i}]`;
    if (typeof s !== 'string') throw bad(at, `must be a string, got ${JSON.stringify(s)}`);
    check(s, at);
    return s;
  });
}

/** A principal pattern: exact, `prefix*`, `*`, `group:<name>` or `unauthenticated`. */
function checkPrincipalPattern(s: string, path: string, inGroup = false): void {
  if (s.length === 0 || /\s/.test(s)) throw bad(path, `'${s}' must be a non-empty name without spaces`);
  if (s.startsWith('group:')) {
    if (inGroup) throw bad(path, `'${s}': a group cannot contain another group; list its patterns instead`);
    if (s.length === 'group:'.length || s.includes('*')) throw bad(path, `'${s}' must name one group: group:<name>`);
    return;
  }
  const star = s.indexOf('*');
  if (star !== -1 && star !== s.length - 1) throw bad(path, `'${s}': '*' may only end a principal pattern (prefix*)`);
}

/** An action, event or stream pattern: dot-separated segments, `*` one segment, `**` any number. */
function checkNamePattern(s: string, path: string): void {
  if (s.length === 0) throw bad(path, 'must be a non-empty pattern');
  for (const seg of s.split('.')) {
    if (seg.length === 0) throw bad(path, `'${s}' has an empty segment`);
    if (seg.includes('*') && seg !== '*' && seg !== '**')
      throw bad(path, `'${s}': a wildcard is a whole segment ('*' one segment, '**' any number), not part of one`);
  }
}

function checkCallPattern(s: string, path: string): void {
  checkNamePattern(s, path);
  if (!s.startsWith('$')) return;
  const service = s.split('.')[0]!;
  if (service === '$kv')
    throw bad(path, `'${s}': $kv is checked per key; grant kvRead / kvWrite prefixes instead of calls`);
  if (service === '$queue')
    throw bad(
      path,
      `'${s}': $queue is checked per stream; grant queuePublish / queueConsume / queueAdmin stream patterns instead of calls`,
    );
  if (!CALLABLE_INTERNAL.includes(service))
    throw bad(
      path,
      `'${s}' names an internal service: ${service} is reachable only by cluster members (see "members")`,
    );
}

function checkPrefix(_s: string, _path: string): void {
  // Any string is a prefix ("" = every key).
}

function validateRule(x: unknown, path: string, names: Set<string>): PolicyRule {
  if (!isObject(x)) throw bad(path, 'must be an object { name, principals, call?, emit?, ... }');
  noUnknownFields(x, RULE_FIELDS, path);
  if (typeof x.name !== 'string' || x.name.length === 0) throw bad(`${path}.name`, 'must be a non-empty string');
  if (names.has(x.name)) throw bad(`${path}.name`, `'${x.name}' is used by another rule; rule names must be unique`);
  names.add(x.name);
  if (x.description !== undefined && typeof x.description !== 'string')
    throw bad(`${path}.description`, 'must be a string');
  if (x.principals === undefined) throw bad(`${path}.principals`, 'is required (who the rule is about)');
  const rule: Record<string, unknown> = {
    name: x.name,
    principals: stringList(x.principals, `${path}.principals`, (s, p) => checkPrincipalPattern(s, p)),
  };
  if (x.description !== undefined) rule.description = x.description;
  let grants = 0;
  for (const field of PATTERN_FIELDS) {
    if (x[field] === undefined) continue;
    rule[field] = stringList(x[field], `${path}.${field}`, field === 'call' ? checkCallPattern : checkNamePattern);
    grants++;
  }
  for (const field of PREFIX_FIELDS) {
    if (x[field] === undefined) continue;
    rule[field] = stringList(x[field], `${path}.${field}`, checkPrefix);
    grants++;
  }
  if (grants === 0)
    throw bad(
      path,
      `(rule '${x.name}') names no permission: give at least one of ${[...PATTERN_FIELDS, ...PREFIX_FIELDS].join(', ')}`,
    );
  return rule as unknown as PolicyRule;
}

/** Checks a policy from a file or an object; throws INVALID_ARGUMENT naming the bad field. */
export function validatePolicy(x: unknown): Policy {
  if (!isObject(x)) throw bad('(top level)', 'must be an object { version: 1, allow: [...] }');
  noUnknownFields(x, POLICY_FIELDS, '');
  if (x.version !== 1) throw bad('version', `must be 1, got ${JSON.stringify(x.version)}`);
  if (x.description !== undefined && typeof x.description !== 'string') throw bad('description', 'must be a string');
  const policy: Record<string, unknown> = { version: 1 };
  if (x.description !== undefined) policy.description = x.description;
  if (x.groups !== undefined) {
    if (!isObject(x.groups)) throw bad('groups', 'must be an object { name: [principal patterns] }');
    const groups: Record<string, string[]> = {};
    for (const [name, patterns] of Object.entries(x.groups)) {
      if (name.length === 0 || /[\s*]/.test(name))
        throw bad(`groups.${name}`, 'group names are non-empty, no spaces or *');
      groups[name] = stringList(patterns, `groups.${name}`, (s, p) => checkPrincipalPattern(s, p, true), true);
    }
    policy.groups = groups;
  }
  if (x.members !== undefined) {
    const groups = (policy.groups ?? {}) as Record<string, string[]>;
    policy.members = stringList(x.members, 'members', (s, p) => {
      checkPrincipalPattern(s, p);
      const viaGroup = s.startsWith('group:') && groups[s.slice('group:'.length)]?.includes('unauthenticated');
      if (s === 'unauthenticated' || viaGroup)
        throw bad(
          p,
          `must not be or contain 'unauthenticated'${viaGroup ? ` (group ${s.slice(6)} lists it)` : ''}: anyone able to connect could then drive $raft and $cluster`,
        );
    });
  }
  const names = new Set<string>();
  if (x.deny !== undefined) {
    if (!Array.isArray(x.deny)) throw bad('deny', 'must be a list of rules');
    policy.deny = x.deny.map((r, i) => validateRule(r, `deny[${i}]`, names));
  }
  if (x.allow === undefined) throw bad('allow', 'is required (a list of rules; [] allows nothing)');
  if (!Array.isArray(x.allow)) throw bad('allow', 'must be a list of rules');
  policy.allow = x.allow.map((r, i) => validateRule(r, `allow[${i}]`, names));
  return policy as unknown as Policy;
}

/** The formats a policy file may be written in. */
export type PolicyFormat = 'json' | 'yaml';

/** The format of a policy file by its name: `.yaml`/`.yml` is YAML, anything else JSON. */
export function policyFormatOf(path: string): PolicyFormat {
  return /\.ya?ml$/i.test(path) ? 'yaml' : 'json';
}

/**
 * Parses the text of a policy file (JSON or YAML), then `validatePolicy`. YAML is read with the
 * `yaml` package, loaded on the first YAML policy: its core schema only (no custom tags), a
 * duplicate key refused, at most 100 alias expansions (no "billion laughs").
 */
export function parsePolicy(text: string, source = 'policy', format: PolicyFormat = 'json'): Policy {
  let parsed: unknown;
  try {
    parsed =
      format === 'yaml'
        ? loadYaml().parse(text, { schema: 'core', uniqueKeys: true, maxAliasCount: 100 })
        : JSON.parse(text);
  } catch (err) {
    throw new ParleyError(
      'INVALID_ARGUMENT',
      `${source} is not valid ${format === 'yaml' ? 'YAML' : 'JSON'}: ${(err as Error).message}`,
    );
  }
  return validatePolicy(parsed);
}

type YamlModule = {
  parse(text: string, options: { schema: 'core'; uniqueKeys: boolean; maxAliasCount: number }): unknown;
};
let yamlModule: YamlModule | undefined;

/** The `yaml` package, required on first use (a node without a YAML policy never loads it). */
function loadYaml(): YamlModule {
  yamlModule ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return yamlModule;
}
