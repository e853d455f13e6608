import { type Timer, wallTimer } from '../../base/clock.js';
import { utf8 } from '../../kv/bytes.js';
import type { Authorizer } from '../../node/authorization/authorizer.js';
import { defineService } from '../../node/service.js';
import { commandToPropose } from '../../queue/command-codec.js';
import type { PartitionStateMachine } from '../../queue/partition-state-machine.js';
import { sharedSubject, validateStreamConfig } from '../../queue/stream-config.js';
import type { PartitionOutcome, PartitionResult, StreamConfig } from '../../queue/types.js';
import type { Logger } from '../../transport/logger.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { GroupHost } from '../server/group-host.js';
import { encodePlacement, type Placement, placeGroups, placementKey } from '../server/group-placement.js';
import type { KvMember } from '../server/kv-member.js';
import { type AddressOf, notLeader, obj, requireLeader } from '../server/request-guards.js';
import { guardQueueActions } from './queue-authorization.js';
import {
  encodeStreamRecord,
  partitionGroupId,
  readStreamRecords,
  type StreamRecord,
  streamKey,
} from './stream-records.js';

/**
 * `$queue`: streams and their consumers on the server members (docs/QUEUES.md, "Service").
 *
 * Two kinds of action:
 * - **stream records** (`createStream`, `deleteStream`, `streams`, `stream`) live in the KV group:
 *   creating a stream writes its record and the placement record of every partition in one KV
 *   transaction on the KV leader (elsewhere: UNAVAILABLE 'not-leader', the client follows);
 *   the group hosts of the members named start the partitions' Raft groups from there.
 * - **partition actions** (`publish`, `fetch`, `ack`, `createConsumer`, `deleteConsumer`,
 *   `info`, `deadLetters`, `dlqReplay`) name a partition's group and run on that group's leader; a member that
 *   does not lead it answers UNAVAILABLE 'not-leader' with the leader it knows (or none).
 *
 * Under a policy every action first passes its per-stream check (queue-authorization.ts).
 *
 * Invariants: every change is a command validated here (commandToPropose) and proposed to the
 * group, stamped with this leader's clock as `now`; nothing is replicated that the state machine
 * would refuse for its shape. A partition's state machine learns its stream's config from the KV
 * record (`stream-create`) before the first command that needs it. A fetch that finds nothing
 * waits (at most `waitMs`) for a publish on that partition through this leader, or for the next
 * redelivery check, instead of proposing in a loop.
 */

/** Longest a fetch may wait for messages. */
const MAX_FETCH_WAIT_MS = 30_000;
/** While a fetch waits with deliveries pending, how often it asks again (redeliveries come due). */
const REDELIVERY_CHECK_MS = 500;
/** How often the leader of a partition proposes a `tick` (age retention, dead-lettering, idle consumers). */
const TICK_EVERY_MS = 1000;

export interface QueueServiceOptions {
  readonly logger: Logger;
  readonly timer?: Timer;
  /** The node's policy: every action is checked per stream first (queue-authorization.ts). */
  readonly authorizer?: Authorizer;
}

/** A per-message error as it travels in a result (a ParleyError's code, message and details). */
export interface WireError {
  readonly code: ParleyError['code'];
  readonly message: string;
  readonly details?: unknown;
}

/** A result with its per-message errors (publish and ack outcomes) in wire form. */
function toWire(result: PartitionResult): unknown {
  if (result.type !== 'publish' && result.type !== 'ack' && result.type !== 'dlq-replay') return result;
  return {
    ...result,
    outcomes: result.outcomes.map((o) =>
      'error' in o ? { error: { code: o.error.code, message: o.error.message, details: o.error.details } } : o,
    ),
  };
}

/** One partition group this member hosts. */
interface Partition {
  readonly groupId: string;
  readonly sm: PartitionStateMachine;
  propose(bytes: Uint8Array): Promise<PartitionOutcome>;
}

export function createQueueService(
  member: KvMember,
  groups: GroupHost<unknown>,
  addressOf: AddressOf,
  options: QueueServiceOptions,
) {
  const timer = options.timer ?? wallTimer;
  /** Fetches waiting for a publish, per group. */
  const waiters = new Map<string, Set<() => void>>();
  /** Stream-create proposals in flight per group (one at a time). */
  const creating = new Map<string, Promise<void>>();

  const wake = (groupId: string) => {
    const set = waiters.get(groupId);
    if (set === undefined) return;
    waiters.delete(groupId);
    for (const fn of set) fn();
  };

  /** The partition `groupId` if this member leads it; otherwise UNAVAILABLE 'not-leader'. */
  const leading = (groupId: unknown): Partition => {
    if (typeof groupId !== 'string') throw new ParleyError('INVALID_ARGUMENT', 'group must be a partition group id');
    const hosted = groups.group(groupId);
    if (hosted === undefined) throw notLeader(member.id, null, null);
    const { member: gm } = hosted;
    if (gm.removed !== null) throw gm.removed;
    if (!gm.isLeader) {
      const lead = gm.leader;
      throw notLeader(member.id, lead, lead === null ? null : addressOf(lead));
    }
    return {
      groupId,
      sm: hosted.stateMachine as PartitionStateMachine,
      propose: (bytes) => gm.propose(bytes) as Promise<PartitionOutcome>,
    };
  };

  const run = async (p: Partition, command: object): Promise<unknown> => {
    await ensureCreated(p);
    const outcome = await p.propose(commandToPropose({ ...command, now: timer.now() }));
    if (!outcome.ok) throw outcome.error;
    return toWire(outcome.result);
  };

  /** Proposes `stream-create` from the KV record when the partition has no config yet. */
  const ensureCreated = async (p: Partition): Promise<void> => {
    if (p.sm.config !== undefined) return;
    let inFlight = creating.get(p.groupId);
    if (inFlight === undefined) {
      inFlight = (async () => {
        await member.readIndex();
        const record = readStreamRecords(member.sm).find((r) => r.groups.includes(p.groupId));
        if (record === undefined) {
          throw new ParleyError('NOT_FOUND', `partition group ${p.groupId} belongs to no stream (deleted?)`);
        }
        const partition = record.groups.indexOf(p.groupId);
        const outcome = await p.propose(
          commandToPropose({ type: 'stream-create', now: timer.now(), config: record.config, partition }),
        );
        if (!outcome.ok && outcome.error.code !== 'ALREADY_EXISTS') throw outcome.error;
      })().finally(() => creating.delete(p.groupId));
      creating.set(p.groupId, inFlight);
    }
    await inFlight;
  };

  const streamView = (r: StreamRecord) => ({
    config: r.config,
    partitions: r.groups.map((groupId) => placementOf(groupId)),
  });

  const placementOf = (groupId: string): Placement & { leader: string | null } => {
    const out = member.sm.read({ range: { key: utf8(placementKey(groupId)) } });
    const kv = out.ok && out.result.type === 'range' ? out.result.kvs[0] : undefined;
    const placement = kv
      ? (JSON.parse(new TextDecoder().decode(kv.value)) as Placement)
      : { groupId, voters: [], preferredLeader: '' };
    const hosted = groups.group(groupId);
    return { ...placement, leader: hosted?.member.leader ?? null };
  };

  const linearizable = async () => {
    if (member.leader === null) throw notLeader(member.id, null, null);
    await member.readIndex();
  };

  let stopped = false;
  let cancelTick = () => {};
  const tick = () => {
    if (stopped) return;
    for (const groupId of groups.groupIds()) {
      let p: Partition;
      try {
        p = leading(groupId);
      } catch {
        continue;
      }
      if (p.sm.config === undefined) continue;
      p.propose(commandToPropose({ type: 'tick', now: timer.now() })).catch(() => {
        // Lost leadership or stopping: the next leader ticks.
      });
    }
  };

  const service = defineService({
    name: '$queue',
    actions: guardQueueActions(options.authorizer, {
      createStream: async (params: unknown) => {
        requireLeader(member, addressOf);
        const config = validateStreamConfig(obj(params).config);
        await member.readIndex();
        const existing = readStreamRecords(member.sm);
        const same = existing.find((r) => r.config.name === config.name);
        if (same !== undefined) {
          if (JSON.stringify(same.config) === JSON.stringify(config)) return streamView(same);
          throw new ParleyError(
            'ALREADY_EXISTS',
            `stream ${config.name} exists with another configuration; delete it first or use its configuration`,
          );
        }
        for (const other of existing) {
          const shared = sharedSubject(config, other.config);
          if (shared !== undefined) {
            throw new ParleyError(
              'FAILED_PRECONDITION',
              `subject pattern '${shared[0]}' overlaps '${shared[1]}' of stream ${other.config.name}: a message must belong to one stream`,
            );
          }
        }
        await createRecords(config, existing);
        await member.readIndex();
        const created = readStreamRecords(member.sm).find((r) => r.config.name === config.name);
        if (created === undefined) throw new ParleyError('ABORTED', `stream ${config.name} was deleted meanwhile`);
        return streamView(created);
      },
      deleteStream: async (params: unknown) => {
        requireLeader(member, addressOf);
        const name = obj(params).name;
        if (typeof name !== 'string') throw new ParleyError('INVALID_ARGUMENT', 'name must be a stream name');
        await member.readIndex();
        const record = readStreamRecords(member.sm).find((r) => r.config.name === name);
        if (record === undefined) throw new ParleyError('NOT_FOUND', `no stream named ${name}`);
        await member.propose({
          type: 'txn',
          compare: [],
          success: [streamKey(name), ...record.groups.map((g) => placementKey(g))].map((key) => ({
            type: 'delete',
            range: { key: utf8(key) },
          })),
          failure: [],
        });
        return { deleted: name };
      },
      streams: async () => {
        await linearizable();
        return readStreamRecords(member.sm).map(streamView);
      },
      stream: async (params: unknown) => {
        const name = obj(params).name;
        await linearizable();
        const record = readStreamRecords(member.sm).find((r) => r.config.name === name);
        if (record === undefined) throw new ParleyError('NOT_FOUND', `no stream named ${String(name)}`);
        return streamView(record);
      },
      publish: async (params: unknown) => {
        const p = obj(params);
        const part = leading(p.group);
        const result = await run(part, { type: 'publish', messages: p.messages, atomic: p.atomic });
        wake(part.groupId);
        return result;
      },
      fetch: async (params: unknown) => {
        const p = obj(params);
        const part = leading(p.group);
        const waitMs = typeof p.waitMs === 'number' ? Math.max(0, Math.min(MAX_FETCH_WAIT_MS, p.waitMs)) : 0;
        const until = timer.now() + waitMs;
        const command = { type: 'fetch', consumer: p.consumer, max: p.max, maxBytes: p.maxBytes };
        for (;;) {
          const result = (await run(leading(part.groupId), command)) as PartitionResult;
          const left = until - timer.now();
          if (result.type !== 'fetch' || result.deliveries.length > 0 || left <= 0) return result;
          await new Promise<void>((resolve) => {
            let set = waiters.get(part.groupId);
            if (set === undefined) waiters.set(part.groupId, (set = new Set()));
            const done = () => {
              cancel();
              set!.delete(done);
              resolve();
            };
            const cancel = timer.setTimeout(done, Math.min(left, REDELIVERY_CHECK_MS));
            set.add(done);
          });
        }
      },
      ack: (params: unknown) => {
        const p = obj(params);
        return run(leading(p.group), { type: 'ack', consumer: p.consumer, acks: p.acks });
      },
      createConsumer: (params: unknown) => {
        const p = obj(params);
        return run(leading(p.group), { type: 'consumer-create', config: p.config });
      },
      deleteConsumer: (params: unknown) => {
        const p = obj(params);
        return run(leading(p.group), { type: 'consumer-delete', name: p.name });
      },
      info: async (params: unknown) => {
        const p = obj(params);
        const part = leading(p.group);
        await ensureCreated(part);
        return typeof p.consumer === 'string' ? part.sm.consumerInfo(p.consumer) : part.sm.info();
      },
      deadLetters: async (params: unknown) => {
        const p = obj(params);
        const part = leading(p.group);
        await ensureCreated(part);
        const from = typeof p.fromSeq === 'number' ? p.fromSeq : undefined;
        const limit = typeof p.limit === 'number' ? Math.min(1000, p.limit) : 100;
        return part.sm.deadLetters(from, limit);
      },
      dlqReplay: (params: unknown) => {
        const p = obj(params);
        return run(leading(p.group), { type: 'dlq-replay', seqs: p.seqs });
      },
    }),
  });

  /** One KV transaction: the stream record (if still absent) and its partitions' placements. */
  async function createRecords(config: StreamConfig, existing: readonly StreamRecord[]): Promise<void> {
    const offset = existing.reduce((n, r) => n + r.groups.length, 0);
    const groupIds = Array.from({ length: config.partitions }, (_, p) => partitionGroupId(config.name, p));
    const placements = placeGroups(member.confState.voters, groupIds, config.replicas, offset);
    const result = await member.propose({
      type: 'txn',
      compare: [{ key: utf8(streamKey(config.name)), target: 'createRevision', op: '=', value: 0 }],
      success: [
        { type: 'put', key: utf8(streamKey(config.name)), value: utf8(encodeStreamRecord(config)) },
        ...placements.map((pl) => ({
          type: 'put',
          key: utf8(placementKey(pl.groupId)),
          value: utf8(encodePlacement(pl)),
        })),
      ],
      failure: [],
    });
    if (result.type === 'txn' && !result.succeeded) {
      throw new ParleyError('ALREADY_EXISTS', `stream ${config.name} was created meanwhile; ask for it and retry`);
    }
  }

  return {
    service,
    /** Starts the leader's ticks (call once the member runs). */
    start() {
      if (!stopped) cancelTick = timer.setTimeout(tick, TICK_EVERY_MS);
    },
    stop() {
      stopped = true;
      cancelTick();
      for (const groupId of [...waiters.keys()]) wake(groupId);
    },
  };
}
