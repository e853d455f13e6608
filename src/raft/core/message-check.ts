import type { ConfState, Entry, NodeId, Snapshot } from '../types.js';
import { raftError } from './errors.js';
import { isLocalMessage, MESSAGE_TYPES, type Message, type MessageType, newMessage } from './messages.js';

/*
 * The one check a message from the network passes before it reaches the core. The core trusts
 * its inputs (a term of Infinity or 2^53 would be persisted and no election could ever win
 * again), so everything a peer controls is checked here: the type is a wire type, ids are
 * non-empty strings, every term, index and commit is a safe non-negative integer, every other
 * field has its type. Unknown fields are not copied.
 */

/** The types a peer may send: every type but the local ones. */
const WIRE_TYPES: ReadonlySet<MessageType> = new Set(MESSAGE_TYPES.filter((t) => !isLocalMessage(t)));

/** Longest node id accepted in a message. */
export const MAX_NODE_ID_LENGTH = 256;

function bad(what: string): never {
  throw raftError('invalid-message', `raft message rejected: ${what}`);
}

function record(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) bad(`${what} is not an object`);
  return x as Record<string, unknown>;
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

function entry(x: unknown, i: number): Entry {
  const e = record(x, `entries[${i}]`);
  if (e.type !== 0 && e.type !== 1) bad(`entries[${i}].type must be 0 or 1`);
  return {
    term: counter(e.term, `entries[${i}].term`),
    index: counter(e.index, `entries[${i}].index`),
    type: e.type,
    data: bytes(e.data, `entries[${i}].data`),
  };
}

function confState(x: unknown): ConfState {
  const c = record(x, 'snapshot.metadata.confState');
  return {
    voters: ids(c.voters, 'confState.voters'),
    votersOutgoing: ids(c.votersOutgoing, 'confState.votersOutgoing'),
    learners: ids(c.learners, 'confState.learners'),
    learnersNext: ids(c.learnersNext, 'confState.learnersNext'),
    autoLeave: bool(c.autoLeave, 'confState.autoLeave'),
  };
}

function snapshot(x: unknown): Snapshot | null {
  if (x === null) return null;
  const s = record(x, 'snapshot');
  const m = record(s.metadata, 'snapshot.metadata');
  return {
    metadata: {
      index: counter(m.index, 'snapshot.metadata.index'),
      term: counter(m.term, 'snapshot.metadata.term'),
      confState: confState(m.confState),
    },
    data: bytes(s.data, 'snapshot.data'),
  };
}

/**
 * Checks a message received from a peer and returns a copy holding only the Message fields.
 * Throws an INVALID_ARGUMENT raft error (reason 'invalid-message') naming the first bad field.
 */
export function checkWireMessage(raw: unknown): Message {
  const m = record(raw, 'message');
  if (typeof m.type !== 'string' || !WIRE_TYPES.has(m.type as MessageType) || isLocalMessage(m.type as MessageType)) {
    // Not JSON.stringify: a BigInt would make it throw a TypeError instead of this refusal.
    const shown = typeof m.type === 'string' ? `'${m.type.slice(0, 64)}'` : `of type ${typeof m.type}`;
    bad(`type ${shown} is not a message peers may send`);
  }
  if (!Array.isArray(m.entries)) bad('entries must be a list');
  if (m.context !== null && !(m.context instanceof Uint8Array)) bad('context must be bytes or null');
  return newMessage({
    type: m.type as MessageType,
    from: nodeId(m.from, 'from'),
    to: nodeId(m.to, 'to'),
    term: counter(m.term, 'term'),
    logTerm: counter(m.logTerm, 'logTerm'),
    index: counter(m.index, 'index'),
    entries: m.entries.map(entry),
    commit: counter(m.commit, 'commit'),
    snapshot: snapshot(m.snapshot),
    reject: bool(m.reject, 'reject'),
    rejectHint: counter(m.rejectHint, 'rejectHint'),
    context: m.context as Uint8Array | null,
    leaderTransfer: bool(m.leaderTransfer, 'leaderTransfer'),
  });
}
