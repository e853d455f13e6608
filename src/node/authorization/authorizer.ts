import type { Clock } from '../../base/clock.js';
import { PolledFile } from '../../base/polled-file.js';
import type { Logger } from '../../transport/logger.js';
import { type Principal, unauthenticatedPrincipal } from '../../transport/principal.js';
import { ParleyError } from '../../wire/parley-error.js';
import { AuditLog, type AuditRecord, type AuditSink, loggerSink } from './audit-log.js';
import { CompiledPolicy, type Decision, describeSpan, type Permission } from './decision.js';
import { type Policy, parsePolicy, policyFormatOf, validatePolicy } from './policy.js';

/** Denials counted per kind (`internal` = a `$` service only members reach). */
export type DenialCounts = Record<
  | 'call'
  | 'serve'
  | 'emit'
  | 'subscribe'
  | 'kvRead'
  | 'kvWrite'
  | 'kvAny'
  | 'internal'
  | 'queuePublish'
  | 'queueConsume'
  | 'queueAdmin',
  number
>;

export interface AuthorizerOptions {
  readonly nodeId: string;
  /** A policy object, or the path of a JSON policy file (re-read every second). None: everything is allowed. */
  readonly policy?: Policy | string | undefined;
  readonly audit?: AuditSink | undefined;
  readonly logger: Logger;
  /** Times the rate windows of the audit log. */
  readonly clock: Clock;
  /** How often a policy file is read again (default 1000 ms). */
  readonly pollIntervalMs?: number;
}

/**
 * A node's authorization: the current policy, the checks the node's parts ask for, the denial
 * counters and the audit log.
 *
 * Invariants: without a policy every check passes and costs one property read; this node's own
 * calls (`via: 'local'`) always pass; a policy is replaced only by a valid one (a broken file
 * keeps the last good policy); every denial is counted once and offered to the audit log once.
 */
export class Authorizer {
  readonly audit: AuditLog;
  private compiled: CompiledPolicy | null = null;
  private readonly file: PolledFile<Policy> | undefined;
  private readonly listeners: (() => void)[] = [];
  private readonly counts: DenialCounts = {
    call: 0,
    serve: 0,
    emit: 0,
    subscribe: 0,
    kvRead: 0,
    kvWrite: 0,
    kvAny: 0,
    internal: 0,
    queuePublish: 0,
    queueConsume: 0,
    queueAdmin: 0,
  };

  /** Throws INVALID_ARGUMENT when the policy (object or file) cannot be used: the node must not start. */
  constructor(private readonly options: AuthorizerOptions) {
    this.audit = new AuditLog(options.nodeId, options.audit ?? loggerSink(options.logger), options.clock);
    const { policy } = options;
    if (typeof policy === 'string') {
      this.file = new PolledFile(
        policy,
        'policy file',
        (text) => parsePolicy(text, `policy file ${policy}`, policyFormatOf(policy)),
        {
          onValue: (p) => this.install(p, 'policy-reloaded'),
          onRejected: (err) =>
            this.audit.record({
              event: 'policy-rejected',
              source: policy,
              reason: `${err.message}; the last good policy stays in force`,
            }),
        },
      );
      this.install(this.file.load(), 'policy-loaded');
    } else if (policy !== undefined) {
      this.install(validatePolicy(policy), 'policy-loaded');
    }
  }

  /** True when a policy is in force (checks can deny). */
  get enabled(): boolean {
    return this.compiled !== null;
  }

  /** The policy in force, if any. */
  get policy(): Policy | undefined {
    return this.compiled?.policy;
  }

  /** Starts re-reading the policy file, if the policy came from one. */
  start(): void {
    this.file?.start(this.options.pollIntervalMs ?? 1000);
  }

  stop(): void {
    this.file?.stop();
  }

  /** Replaces the policy (validated first: throws INVALID_ARGUMENT and keeps the old one). */
  setPolicy(policy: Policy): void {
    this.install(validatePolicy(policy), this.compiled ? 'policy-reloaded' : 'policy-loaded');
  }

  /** Called after every policy change (routing caches depend on it). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Denials so far, per kind (for metrics). */
  denials(): Readonly<DenialCounts> {
    return { ...this.counts };
  }

  /** True when `principal` is a cluster member under the policy (everyone is, without one). */
  isMember(principal: Principal | undefined): boolean {
    const c = this.compiled;
    if (c === null || principal?.via === 'local') return true;
    return principal !== undefined && c.isMember(principal);
  }

  /** The decision alone: nothing counted or audited. */
  decide(principal: Principal | undefined, permission: Permission): Decision {
    const c = this.compiled;
    if (c === null) return { allowed: true, rule: '(no policy)' };
    if (principal?.via === 'local') return { allowed: true, rule: '(this node)' };
    return c.decide(principal ?? GONE, permission);
  }

  /**
   * Checks a permission: undefined when allowed, else the error to answer with (counted and
   * audited). UNAUTHENTICATED when no rule allows an unauthenticated principal; PERMISSION_DENIED
   * otherwise, naming the rule that refused or saying that none allows it.
   */
  check(principal: Principal | undefined, permission: Permission): ParleyError | undefined {
    if (this.compiled === null || principal?.via === 'local') return undefined;
    const who = principal ?? GONE;
    const d = this.compiled.decide(who, permission);
    if (d.allowed) return undefined;
    const kind = countedKind(permission);
    this.counts[kind]++;
    const target = targetOf(permission);
    const unauthenticated = !who.authenticated && d.rule === undefined;
    const code = unauthenticated ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED';
    const message =
      d.rule !== undefined
        ? `'${who.name}' may not ${VERBS[permission.kind]} ${target}: denied by rule '${d.rule}'`
        : unauthenticated
          ? `${d.reason}; authenticate (a node key, the cluster secret, a token or a TLS certificate) or ask for a rule for 'unauthenticated'`
          : `${d.reason}; add an allow rule to the policy if it should be allowed`;
    this.audit.denied({
      event: 'denied',
      principal: who.name,
      via: who.via,
      permission: kind,
      target,
      code,
      reason: d.reason,
      ...(d.rule !== undefined ? { rule: d.rule } : {}),
    });
    return new ParleyError(code, message, {
      details: {
        reason: 'policy',
        permission: kind,
        target,
        principal: who.name,
        ...(d.rule !== undefined ? { rule: d.rule } : {}),
      },
    });
  }

  /** `check`, throwing the error. */
  require(principal: Principal | undefined, permission: Permission): void {
    const err = this.check(principal, permission);
    if (err) throw err;
  }

  /** Records a membership or role change (or any audit event) in the audit log. */
  record(entry: AuditRecord): void {
    this.audit.record(entry);
  }

  private install(policy: Policy, event: 'policy-loaded' | 'policy-reloaded'): void {
    this.compiled = new CompiledPolicy(policy);
    this.audit.record({
      event,
      ...(this.file ? { source: this.file.path } : {}),
      details: { deny: policy.deny?.length ?? 0, allow: policy.allow.length },
    });
    for (const l of this.listeners) l();
  }
}

/** A peer that went away between its frame and the check: nobody, so nothing but `unauthenticated` matches. */
const GONE = unauthenticatedPrincipal('(disconnected)');

const VERBS: Record<Permission['kind'], string> = {
  call: 'call',
  serve: 'serve',
  internal: 'call',
  emit: 'emit',
  subscribe: 'receive',
  queuePublish: 'publish to',
  queueConsume: 'consume',
  queueAdmin: 'administer',
  kvRead: 'read',
  kvWrite: 'write',
  kvAny: 'use',
};

function countedKind(p: Permission): keyof DenialCounts {
  if (p.kind === 'call' && p.action.startsWith('$') && !p.action.startsWith('$node.')) return 'internal';
  return p.kind;
}

function targetOf(p: Permission): string {
  switch (p.kind) {
    case 'call':
    case 'serve':
    case 'internal':
      return `'${p.action}'`;
    case 'emit':
    case 'subscribe':
      return `'${p.event}'`;
    case 'queuePublish':
    case 'queueConsume':
    case 'queueAdmin':
      return `stream '${p.stream}'`;
    case 'kvRead':
    case 'kvWrite':
      return describeSpan(p.span);
    case 'kvAny':
      return 'the KV store';
  }
}
