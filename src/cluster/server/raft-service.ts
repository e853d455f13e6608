import { systemTimer, type Timer } from '../../base/clock.js';
import type { Context } from '../../node/context.js';
import { defineService } from '../../node/service.js';
import type { Message } from '../../raft/core/messages.js';
import { checkWireMessage, encodeWireMessage } from '../../raft/core/wire-message.js';
import type { NodeId } from '../../raft/types.js';
import type { Logger } from '../../transport/logger.js';
import { ParleyError } from '../../wire/parley-error.js';

/** Senders warned about / told they are not members (bounded, so a flood of invented ids cannot grow them). */
const MAX_WARNED = 64;
/** At most one "not a member" notice per sender per this many ms. */
const NOTICE_EVERY_MS = 1000;
/** Longest group id `step` looks up (placement ids are at most 128 characters). */
const MAX_GROUP_ID_LENGTH = 256;

/** Bytes of a `$raft.step` call around its messages: frame header, packet fields, action name, group ids' headers. */
export const RAFT_CALL_ENVELOPE_BYTES = 4096;

/** The group id of the KV store's own Raft group on the wire. */
export const KV_GROUP = 'kv';

/** One Raft group as the `$raft` boundary sees it (a KvMember, or a GroupMember of a GroupHost). */
export interface RaftEndpoint {
  readonly id: NodeId;
  readonly applied: number;
  /** Whether `id` may send raft messages to this group here (in its configuration). */
  isPeer(id: NodeId): boolean;
  step(message: Message): void;
  /** How a removed member learns it from its peers (GroupMember.noticeNotMember); absent: such notices are not sent. */
  noticeNotMember?(from: NodeId, appliedIndex: number): void;
}

/** The groups this server hosts, by wire group id. */
export interface RaftGroups {
  get(groupId: string): RaftEndpoint | undefined;
}

/** The messages of one group in one `$raft.step` call. */
export interface RaftStepPart {
  readonly groupId: string;
  readonly messages: readonly Message[];
}

/**
 * The params of one `$raft.step` call: `[[groupId, [wireMessage, …]], …]`, one pair per group
 * (several groups' messages to one member travel in one call).
 */
export function encodeRaftStep(parts: readonly RaftStepPart[]): unknown[] {
  return parts.map((p) => [p.groupId, p.messages.map(encodeWireMessage)]);
}

export interface RaftServiceOptions {
  readonly logger: Logger;
  /** Sends `$raft.notMember { appliedIndex, groupId }` to a node whose messages were dropped because it is not a member. */
  readonly noticeNotMember: (to: string, appliedIndex: number, groupId: string) => void;
  readonly timer?: Timer;
}

/**
 * `$raft`: the one-way `step` that carries raft messages between members, for every Raft group
 * the server hosts (the KV group, `KV_GROUP`, and the groups of its GroupHost).
 *
 * The boundary of each raft core: a message reaches `group.step` only if
 * - its group is hosted here (messages for an unknown group are dropped: they never create one),
 * - it passes `checkWireMessage` (the wire form of wire-message.ts: types, safe non-negative
 *   integers: a forged term of Infinity or 2^53 would be persisted and block every later election),
 * - it is addressed to this member and claims to come from the node that sent it (`from` is the
 *   connection's peer id),
 * - its sender is in THAT group's configuration, or added by a conf change in its log
 *   (`isPeer`): a stranger, or a member of another group, cannot vote, campaign or append, and
 *   a removed member's messages are dropped once its removal is applied.
 * Anything else is dropped, with one warning per (sender, group) (at most MAX_WARNED in all);
 * it never stops the member.
 *
 * A sender dropped for not being a member of a group is told so (`notMember`, with the group id
 * and that group's applied index, at most once a second per sender and group): a removed member
 * learns it from there, since the leader stops sending to it once its removal is applied
 * (GroupMember.noticeNotMember decides whether to trust it; a member that does not host the
 * group ignores it).
 */
export function createRaftService(groups: RaftGroups, options: RaftServiceOptions) {
  const { logger } = options;
  const timer = options.timer ?? systemTimer;
  const warned = new Set<string>();
  const noticed = new Map<string, number>();
  const notice = (sender: string, groupId: string, group: RaftEndpoint) => {
    const key = `${groupId}\u0000${sender}`;
    const now = timer.now();
    const last = noticed.get(key);
    if (last !== undefined && now - last < NOTICE_EVERY_MS) return;
    if (last === undefined && noticed.size >= MAX_WARNED) noticed.delete(noticed.keys().next().value!);
    noticed.set(key, now);
    options.noticeNotMember(sender, group.applied, groupId);
  };
  const drop = (sender: string, groupId: string | null, why: string) => {
    const key = `${groupId ?? ''}\u0000${sender}`;
    if (warned.has(key) || warned.size >= MAX_WARNED) return;
    warned.add(key);
    const of = groupId === null ? '' : groupId === KV_GROUP ? '' : ` for group '${groupId}'`;
    logger.warn(`dropping raft messages from '${sender}'${of}: ${why}`);
  };
  const stepGroup = (sender: string, groupId: string, raw: unknown[]) => {
    const group = groups.get(groupId);
    if (group === undefined) return drop(sender, groupId, 'no such group on this member');
    if (!group.isPeer(sender)) {
      if (group.noticeNotMember !== undefined) notice(sender, groupId, group);
      return drop(
        sender,
        groupId,
        groupId === KV_GROUP
          ? 'not a member of the cluster configuration'
          : "not a member of the group's configuration",
      );
    }
    for (const one of raw) {
      let m: ReturnType<typeof checkWireMessage>;
      try {
        m = checkWireMessage(one);
      } catch (err) {
        drop(sender, groupId, ParleyError.from(err).message);
        continue;
      }
      if (m.from !== sender) {
        drop(sender, groupId, `message claims to come from '${m.from}'`);
        continue;
      }
      if (m.to !== group.id) {
        drop(sender, groupId, `message addressed to '${m.to}', not to this member`);
        continue;
      }
      try {
        group.step(m);
      } catch {
        // An unexpected message from a member (e.g. a stale local type) is dropped.
      }
    }
  };
  return defineService({
    name: '$raft',
    actions: {
      step: (params: unknown, ctx: Context) => {
        const sender = ctx.callerId;
        if (!Array.isArray(params)) return drop(sender, null, 'not a list of [group, messages] pairs');
        for (const part of params) {
          if (
            !Array.isArray(part) ||
            part.length !== 2 ||
            typeof part[0] !== 'string' ||
            part[0].length > MAX_GROUP_ID_LENGTH ||
            !Array.isArray(part[1])
          ) {
            drop(sender, null, 'not a list of [group, messages] pairs');
            continue;
          }
          stepGroup(sender, part[0], part[1]);
        }
      },
      /** One-way: the caller dropped this member's messages because this member is not in that group's configuration. */
      notMember: (params: unknown, ctx: Context) => {
        const p = params as { appliedIndex?: unknown; groupId?: unknown } | null;
        const appliedIndex = p?.appliedIndex;
        if (typeof appliedIndex !== 'number') return;
        const groupId = typeof p?.groupId === 'string' ? p.groupId : KV_GROUP;
        groups.get(groupId)?.noticeNotMember?.(ctx.callerId, appliedIndex);
      },
    },
  });
}
