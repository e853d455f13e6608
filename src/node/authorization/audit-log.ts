import type { Clock } from '../../base/clock.js';
import type { PrincipalSource } from '../../transport/principal.js';

/** What an audit line records. */
export type AuditEvent =
  | 'denied'
  | 'policy-loaded'
  | 'policy-reloaded'
  | 'policy-rejected'
  | 'membership-changed'
  | 'role-changed'
  /** The trust list or token options were reloaded (file or node.updateAuth). */
  | 'auth-reloaded'
  /** A new version of a trust or tokens file cannot be used: the last good one stays. */
  | 'auth-rejected'
  /** An authenticated connection was closed: its key left the trust list, its token expired or no longer verifies. */
  | 'connection-revoked';

/** One structured audit line (JSON-serializable). */
export interface AuditEntry {
  /** Wall-clock time, ISO 8601. */
  readonly time: string;
  /** The node that wrote it. */
  readonly node: string;
  readonly event: AuditEvent;
  /** Who asked (denials), or who made the change when known. */
  readonly principal?: string;
  readonly via?: PrincipalSource;
  /** The permission kind that was refused (`call`, `emit`, `kvWrite`, ...). */
  readonly permission?: string;
  /** What was asked for: an action, an event, a key span. */
  readonly target?: string;
  /** The rule that decided, when a rule did. */
  readonly rule?: string;
  /** The error code the caller got (PERMISSION_DENIED or UNAUTHENTICATED). */
  readonly code?: string;
  readonly reason?: string;
  /** The policy file, for policy events. */
  readonly source?: string;
  /** Identical denials (same principal, permission, target) not written since the last line for them. */
  readonly suppressed?: number;
  /** Denials of any kind dropped by the overall line budget since the last denial line. */
  readonly dropped?: number;
  /** Anything else the event carries (membership and role changes). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Where audit entries go (`NodeOptions.audit`); the default writes them to the node's logger. */
export type AuditSink = (entry: AuditEntry) => void;

export type AuditRecord = Omit<AuditEntry, 'time' | 'node'>;

/** One line per identical denial per window; at most `DENIAL_BUDGET` denial lines per window overall. */
export const DENIAL_WINDOW_MS = 60_000;
export const DENIAL_BUDGET = 100;
const MAX_TRACKED = 10_000;

/**
 * The audit log of one node: policy and membership events are written as they happen; denials
 * are rate-limited so a flood cannot fill a disk.
 *
 * Invariants: per (principal, permission, target) at most one denial line per DENIAL_WINDOW_MS,
 * the next one carrying how many were suppressed in between; across all denials at most
 * DENIAL_BUDGET lines per window, the next carrying how many were dropped; the table of recent
 * denials never holds more than MAX_TRACKED entries. A sink that throws loses its line, never
 * the caller's request.
 */
export class AuditLog {
  private readonly recent = new Map<string, { since: number; suppressed: number }>();
  private budgetSince = Number.NEGATIVE_INFINITY;
  private budgetUsed = 0;
  private dropped = 0;

  constructor(
    private readonly nodeId: string,
    private readonly sink: AuditSink,
    private readonly clock: Clock,
  ) {}

  /** Writes an entry (policy, membership and role changes: the function other parts call). */
  record(entry: AuditRecord): void {
    try {
      this.sink({ time: new Date().toISOString(), node: this.nodeId, ...entry });
    } catch {
      // An audit sink must not break the request or the change it reports.
    }
  }

  /** Writes a denial unless the same one, or too many denials, were written within the window. */
  denied(entry: AuditRecord & { principal: string; permission: string; target: string }): void {
    const now = this.clock.now();
    const key = `${entry.principal}\u0000${entry.permission}\u0000${entry.target}`;
    const seen = this.recent.get(key);
    if (seen && now - seen.since < DENIAL_WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    if (now - this.budgetSince >= DENIAL_WINDOW_MS) {
      this.budgetSince = now;
      this.budgetUsed = 0;
    }
    if (this.budgetUsed >= DENIAL_BUDGET) {
      this.dropped++;
      return;
    }
    this.budgetUsed++;
    if (!seen && this.recent.size >= MAX_TRACKED) this.prune(now);
    const suppressed = seen?.suppressed ?? 0;
    this.recent.set(key, { since: now, suppressed: 0 });
    const dropped = this.dropped;
    this.dropped = 0;
    this.record({ ...entry, ...(suppressed > 0 ? { suppressed } : {}), ...(dropped > 0 ? { dropped } : {}) });
  }

  private prune(now: number): void {
    for (const [k, v] of this.recent) if (now - v.since >= DENIAL_WINDOW_MS) this.recent.delete(k);
    if (this.recent.size >= MAX_TRACKED) this.recent.clear();
  }
}

/** The default sink: one line on the node's logger (warn for denials and rejections, info otherwise). */
export function loggerSink(logger: {
  info(m: string, f?: Record<string, unknown>): void;
  warn(m: string, f?: Record<string, unknown>): void;
  error(m: string, f?: Record<string, unknown>): void;
}): AuditSink {
  return (entry) => {
    const fields = entry as unknown as Record<string, unknown>;
    if (entry.event === 'policy-rejected' || entry.event === 'auth-rejected')
      logger.error(`audit: ${entry.event}`, fields);
    else if (entry.event === 'denied' || entry.event === 'connection-revoked')
      logger.warn(`audit: ${entry.event}`, fields);
    else logger.info(`audit: ${entry.event}`, fields);
  };
}
