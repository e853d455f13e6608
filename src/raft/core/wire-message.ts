import type { ConfState, Entry, NodeId, Snapshot } from '../types.js';
import { raftError } from './errors.js';
import { isLocalMessage, MESSAGE_TYPES, type Message, type MessageType, newMessage } from './messages.js';

/*
 * A raft message as it travels between members, and the one check it passes before it reaches
 * the core.
 *
 * The wire form is a tuple, fields by position, no field names (a MsgApp's thirteen names cost
 * more to write and read than its values):
 *   [type, from, to, term, logTerm, index, commit, reject, rejectHint, leaderTransfer, context,
 *    entries, snapshot]
 * - type: the type's position in MESSAGE_TYPES (so that list is append-only);
 * - entries: flat, four slots per entry: [term, index, type, data, term, index, type, data, …];
 * - snapshot: null or [index, term, voters, votersOutgoing, learners, learnersNext, autoLeave, data].
 * The tuple holds only plain data (numbers, strings, booleans, bytes, arrays, null), so any body
 * codec carries it.
 *
 * The core trusts its inputs (a term of Infinity or 2^53 would be persisted and no election could
 * ever win again), so `checkWireMessage` checks everything a peer controls: the tuple has exactly
 * its slots, the type is a wire type, ids are non-empty strings, every term, index and commit is a
 * safe non-negative integer, every other field has its type. Invariant: `checkWireMessage(
 * encodeWireMessage(m))` deep-equals `m` for every message a core sends.
 */

/** Slots of the message tuple. */
const SLOTS = 13;
/** Slots per entry in the flat entry list. */
const ENTRY_SLOTS = 4;
/** Slots of the snapshot tuple. */
const SNAPSHOT_SLOTS = 8;

/** The code of each type on the wire: its position in MESSAGE_TYPES. */
const TYPE_CODES: ReadonlyMap<MessageType, number> = new Map(MESSAGE_TYPES.map((t, i) => [t, i]));
/** Per code, the type if peers may send it (every type but the local ones), else undefined. */
const WIRE_TYPES: readonly (MessageType | undefined)[] = MESSAGE_TYPES.map((t) => (isLocalMessage(t) ? undefined : t));

/** Longest node id accepted in a message. */
export const MAX_NODE_ID_LENGTH = 256;

/** The wire form of `m` (see above). */
export function encodeWireMessage(m: Message): unknown[] {
  const entries: unknown[] = new Array(m.entries.length * ENTRY_SLOTS);
  let at = 0;
  for (const e of m.entries) {
    entries[at++] = e.term;
    entries[at++] = e.index;
    entries[at++] = e.type;
    entries[at++] = e.data;
  }
  const s = m.snapshot;
  const snapshot =
    s === null
      ? null
      : [
          s.metadata.index,
          s.metadata.term,
          s.metadata.confState.voters,
          s.metadata.confState.votersOutgoing,
          s.metadata.confState.learners,
          s.metadata.confState.learnersNext,
          s.metadata.confState.autoLeave,
          s.data,
        ];
  return [
    TYPE_CODES.get(m.type),
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    m.commit,
    m.reject,
    m.rejectHint,
    m.leaderTransfer,
    m.context,
    entries,
    snapshot,
  ];
}

function bad(what: string): never {
  throw raftError('invalid-message', `raft message rejected: ${what}`);
}

function tuple(x: unknown, slots: number, what: string): unknown[] {
  if (!Array.isArray(x) || x.length !== slots) bad(`${what} is not a list of ${slots} fields`);
  return x;
}

/** A term, index or commit: a safe non-negative integer. */
function counter(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) bad(`${what} must be a safe non-negative integer`);
  return x;
}

function nodeId(x: unknown, what: string): NodeId {
  if (typeof x !== 'string' || x.length === 0 || x.length > MAX_NODE_ID_LENGTH) bad(`${what} must be a node id`);
  return x;
}

function bytes(x: unknown, what: string): Uint8Array {
  if (!(x instanceof Uint8Array)) bad(`${what} must be bytes`);
  return x;
}

function bool(x: unknown, what: string): boolean {
  if (typeof x !== 'boolean') bad(`${what} must be a boolean`);
  return x;
}

function ids(x: unknown, what: string): NodeId[] {
  if (!Array.isArray(x)) bad(`${what} must be a list of node ids`);
  return x.map((id, i) => nodeId(id, `${what}[${i}]`));
}

function entries(x: unknown): Entry[] {
  if (!Array.isArray(x) || x.length % ENTRY_SLOTS !== 0)
    bad(`entries must be a list of ${ENTRY_SLOTS} fields per entry`);
  const out: Entry[] = new Array(x.length / ENTRY_SLOTS);
  for (let i = 0, at = 0; at < x.length; i++, at += ENTRY_SLOTS) {
    const type = x[at + 2];
    if (type !== 0 && type !== 1) bad(`entries[${i}].type must be 0 or 1`);
    out[i] = {
      term: counter(x[at], `entries[${i}].term`),
      index: counter(x[at + 1], `entries[${i}].index`),
      type,
      data: bytes(x[at + 3], `entries[${i}].data`),
    };
  }
  return out;
}

function snapshot(x: unknown): Snapshot | null {
  if (x === null) return null;
  const s = tuple(x, SNAPSHOT_SLOTS, 'snapshot');
  const confState: ConfState = {
    voters: ids(s[2], 'confState.voters'),
    votersOutgoing: ids(s[3], 'confState.votersOutgoing'),
    learners: ids(s[4], 'confState.learners'),
    learnersNext: ids(s[5], 'confState.learnersNext'),
    autoLeave: bool(s[6], 'confState.autoLeave'),
  };
  return {
    metadata: {
      index: counter(s[0], 'snapshot.metadata.index'),
      term: counter(s[1], 'snapshot.metadata.term'),
      confState,
    },
    data: bytes(s[7], 'snapshot.data'),
  };
}

/**
 * Checks a message received from a peer (its wire form) and returns it as a Message.
 * Throws an INVALID_ARGUMENT raft error (reason 'invalid-message') naming the first bad field.
 */
export function checkWireMessage(raw: unknown): Message {
  const m = tuple(raw, SLOTS, 'message');
  const type = typeof m[0] === 'number' ? WIRE_TYPES[m[0]] : undefined;
  // Not JSON.stringify: a BigInt (a peer can send one) makes it throw a TypeError instead of this refusal.
  if (type === undefined)
    bad(`type ${typeof m[0] === 'number' ? m[0] : `of type ${typeof m[0]}`} is not a message peers may send`);
  if (m[10] !== null && !(m[10] instanceof Uint8Array)) bad('context must be bytes or null');
  return newMessage({
    type,
    from: nodeId(m[1], 'from'),
    to: nodeId(m[2], 'to'),
    term: counter(m[3], 'term'),
    logTerm: counter(m[4], 'logTerm'),
    index: counter(m[5], 'index'),
    commit: counter(m[6], 'commit'),
    reject: bool(m[7], 'reject'),
    rejectHint: counter(m[8], 'rejectHint'),
    leaderTransfer: bool(m[9], 'leaderTransfer'),
    context: m[10] as Uint8Array | null,
    entries: entries(m[11]),
    snapshot: snapshot(m[12]),
  });
}
