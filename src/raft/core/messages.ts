import type { Entry, NodeId, Snapshot } from '../types.js';

/**
 * Every input of the core is a Message, including local events (ticks become MsgHup/MsgBeat/
 * MsgCheckQuorum, proposals are MsgProp). Messages are plain data (strings, numbers, booleans,
 * Uint8Array, arrays, null); between members they travel in their wire form (wire-message.ts).
 */
export type MessageType =
  // Local only: never sent on the wire, rejected by RawNode.step().
  | 'MsgHup' // start an election (tick timeout or campaign())
  | 'MsgBeat' // leader: time to send heartbeats
  | 'MsgCheckQuorum' // leader: time to check that a quorum was active
  | 'MsgUnreachable' // the driver could not deliver a message to `from`
  | 'MsgSnapStatus' // the driver reports the outcome of sending a snapshot (reject = failed)
  // Local or forwarded from a follower to the leader (term 0).
  | 'MsgProp'
  | 'MsgReadIndex'
  | 'MsgTransferLeader' // `from` is the transferee
  // Wire messages.
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgSnap'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgTimeoutNow'
  | 'MsgReadIndexResp';

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  /** 0 for local messages and for forwarded MsgProp/MsgReadIndex/MsgTransferLeader. */
  readonly term: number;
  /** MsgApp: term of the entry at `index`. MsgVote/MsgPreVote: the candidate's last log term. Reject MsgAppResp: term of rejectHint. */
  readonly logTerm: number;
  /** MsgApp: index preceding `entries`. MsgAppResp: last index matched (or rejected index). MsgVote: last log index. MsgReadIndexResp: the read index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot: Snapshot | null;
  readonly reject: boolean;
  /** Reject MsgAppResp: the follower's guess of the last index that may match (fast back-off). */
  readonly rejectHint: number;
  /** MsgReadIndex(Resp), MsgHeartbeat(Resp): the read request context. */
  readonly context: Uint8Array | null;
  /** MsgVote/MsgPreVote: the election follows a leader transfer (MsgTimeoutNow) and overrides the leader lease. */
  readonly leaderTransfer: boolean;
}

/**
 * Every message type, in the order of `MessageType`. A type's position is its code on the wire
 * (wire-message.ts) and in the simulator: append new types, never reorder.
 */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'MsgHup',
  'MsgBeat',
  'MsgCheckQuorum',
  'MsgUnreachable',
  'MsgSnapStatus',
  'MsgProp',
  'MsgReadIndex',
  'MsgTransferLeader',
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgSnap',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgTimeoutNow',
  'MsgReadIndexResp',
];

const EMPTY_ENTRIES: readonly Entry[] = Object.freeze([]);

/**
 * Builds a message with every field present (defaults: 0, empty, null, false), always with the
 * same property order so that every Message shares one hidden class. `from` and `term`, when
 * given, override the fields' values.
 */
export function newMessage(fields: Partial<Message> & Pick<Message, 'type'>, from?: NodeId, term?: number): Message {
  return {
    type: fields.type,
    from: from ?? fields.from ?? '',
    to: fields.to ?? '',
    term: term ?? fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? EMPTY_ENTRIES,
    commit: fields.commit ?? 0,
    snapshot: fields.snapshot ?? null,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? null,
    leaderTransfer: fields.leaderTransfer ?? false,
  };
}

const LOCAL_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgHup',
  'MsgBeat',
  'MsgCheckQuorum',
  'MsgUnreachable',
  'MsgSnapStatus',
]);

/** Messages only the node itself may generate. */
export function isLocalMessage(type: MessageType): boolean {
  return LOCAL_TYPES.has(type);
}

const RESPONSE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgAppResp',
  'MsgVoteResp',
  'MsgPreVoteResp',
  'MsgHeartbeatResp',
  'MsgUnreachable',
  'MsgSnapStatus',
]);

export function isResponseMessage(type: MessageType): boolean {
  return RESPONSE_TYPES.has(type);
}

export function voteResponseType(type: 'MsgVote' | 'MsgPreVote'): 'MsgVoteResp' | 'MsgPreVoteResp' {
  return type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
}

/**
 * The size of an entry for flow control (maxSizePerMsg, maxInflightBytes,
 * maxUncommittedEntriesSize): its payload bytes. Empty entries (the leader's no-op) cost 0.
 */
export function entrySize(e: Entry): number {
  return e.data.byteLength;
}

export function entriesSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += e.data.byteLength;
  return s;
}

/**
 * Returns the longest prefix of `ents` whose total size is <= maxBytes, but always at least one
 * entry (so that a single oversized entry still makes progress).
 */
export function limitSize<T extends Entry>(ents: T[], maxBytes: number): T[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}
