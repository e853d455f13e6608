import { systemTimer, type Timer } from '../../base/clock.js';
import type { Context } from '../../node/context.js';
import { defineService } from '../../node/service.js';
import { checkWireMessage } from '../../raft/core/wire-message.js';
import type { Logger } from '../../transport/logger.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { KvMember } from './kv-member.js';

/** Senders warned about / told they are not members (bounded, so a flood of invented ids cannot grow them). */
const MAX_WARNED = 64;
/** At most one "not a member" notice per sender per this many ms. */
const NOTICE_EVERY_MS = 1000;

export interface RaftServiceOptions {
  readonly logger: Logger;
  /** Sends `$raft.notMember { appliedIndex }` to a node whose messages were dropped because it is not a member. */
  readonly noticeNotMember: (to: string, appliedIndex: number) => void;
  readonly timer?: Timer;
}

/**
 * `$raft`: the one-way `step` that carries raft messages between members.
 *
 * The boundary of the raft core: a message reaches `member.step` only if
 * - it passes `checkWireMessage` (the wire form of wire-message.ts: types, safe non-negative
 *   integers: a forged term of Infinity or 2^53 would be persisted and block every later election),
 * - it is addressed to this member and claims to come from the node that sent it (`from` is the
 *   connection's peer id),
 * - its sender is in this member's configuration, or added by a conf change in its log
 *   (`KvMember.isPeer`): a stranger cannot vote, campaign or append, and a removed member's
 *   messages are dropped once its removal is applied.
 * Anything else is dropped (one warning per sender); it never stops the member.
 *
 * A sender dropped for not being a member is told so (`notMember`, with this member's applied
 * index, at most once a second): a removed member learns it from there, since the leader stops
 * sending to it once its removal is applied (KvMember.noticeNotMember decides whether to trust it).
 */
export function createRaftService(member: KvMember, options: RaftServiceOptions) {
  const { logger } = options;
  const timer = options.timer ?? systemTimer;
  const warned = new Set<string>();
  const noticed = new Map<string, number>();
  const notice = (sender: string) => {
    const now = timer.now();
    const last = noticed.get(sender);
    if (last !== undefined && now - last < NOTICE_EVERY_MS) return;
    if (last === undefined && noticed.size >= MAX_WARNED) noticed.delete(noticed.keys().next().value!);
    noticed.set(sender, now);
    options.noticeNotMember(sender, member.applied);
  };
  const drop = (sender: string, why: string) => {
    if (warned.has(sender) || warned.size >= MAX_WARNED) return;
    warned.add(sender);
    logger.warn(`dropping raft messages from '${sender}': ${why}`);
  };
  return defineService({
    name: '$raft',
    actions: {
      step: (params: unknown, ctx: Context) => {
        const sender = ctx.callerId;
        if (!Array.isArray(params)) return drop(sender, 'not a list of messages');
        if (!member.isPeer(sender)) {
          notice(sender);
          return drop(sender, 'not a member of the cluster configuration');
        }
        for (const raw of params) {
          let m: ReturnType<typeof checkWireMessage>;
          try {
            m = checkWireMessage(raw);
          } catch (err) {
            drop(sender, ParleyError.from(err).message);
            continue;
          }
          if (m.from !== sender) {
            drop(sender, `message claims to come from '${m.from}'`);
            continue;
          }
          if (m.to !== member.id) {
            drop(sender, `message addressed to '${m.to}', not to this member`);
            continue;
          }
          try {
            member.step(m);
          } catch {
            // An unexpected message from a member (e.g. a stale local type) is dropped.
          }
        }
      },
      /** One-way: the caller dropped this member's messages because this member is not in its configuration. */
      notMember: (params: unknown, ctx: Context) => {
        const appliedIndex = (params as { appliedIndex?: unknown } | null)?.appliedIndex;
        if (typeof appliedIndex !== 'number') return;
        member.noticeNotMember(ctx.callerId, appliedIndex);
      },
    },
  });
}
