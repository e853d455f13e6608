import type { NodeId } from '../types.js';
import { raftError } from './errors.js';

/** One membership change of one node. */
export type ConfChangeType = 'AddNode' | 'AddLearnerNode' | 'RemoveNode';

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/**
 * How a ConfChange moves between configurations:
 * - 'Auto': a single voter change is applied directly (simple change); anything larger enters a
 *   joint configuration that the leader leaves automatically once it is applied.
 * - 'JointImplicit': always enter a joint configuration; leave it automatically.
 * - 'JointExplicit': always enter a joint configuration; the application leaves it by proposing
 *   an empty ConfChange (`{ transition: 'Auto', changes: [] }`).
 */
export type ConfChangeTransition = 'Auto' | 'JointImplicit' | 'JointExplicit';

/**
 * A membership change, carried in an Entry of type ConfChange (see encodeConfChange).
 * An empty `changes` list with transition 'Auto' means "leave the joint configuration".
 */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  /** Opaque to raft (e.g. the new member's address); travels with the change. */
  readonly context?: Uint8Array;
}

export const LEAVE_JOINT: ConfChange = Object.freeze({ transition: 'Auto', changes: Object.freeze([]) });

/** True when the change asks to leave a joint configuration. */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.transition === 'Auto' && cc.changes.length === 0;
}

/** Whether the change enters a joint configuration, and if so whether it leaves it automatically. */
export function entersJoint(cc: ConfChange): { joint: boolean; autoLeave: boolean } {
  if (cc.transition === 'Auto' && cc.changes.length <= 1) return { joint: false, autoLeave: false };
  return { joint: true, autoLeave: cc.transition !== 'JointExplicit' };
}

const TYPE_CODES: readonly ConfChangeType[] = ['AddNode', 'AddLearnerNode', 'RemoveNode'];
const TRANSITION_CODES: readonly ConfChangeTransition[] = ['Auto', 'JointImplicit', 'JointExplicit'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a ConfChange as the data of an Entry. Format: UTF-8 JSON
 * `{"t":<transition code>,"c":[[<type code>,"<node id>"],...],"x":"<context base64>"?}`.
 * Stable: it is stored in logs and snapshots.
 */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const doc: { t: number; c: [number, string][]; x?: string } = {
    t: TRANSITION_CODES.indexOf(cc.transition),
    c: cc.changes.map((c) => [TYPE_CODES.indexOf(c.type), c.nodeId]),
  };
  if (cc.context !== undefined && cc.context.byteLength > 0) doc.x = Buffer.from(cc.context).toString('base64');
  return encoder.encode(JSON.stringify(doc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  let doc: { t?: unknown; c?: unknown; x?: unknown };
  try {
    doc = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw raftError('invalid-config', `malformed ConfChange entry: ${(err as Error).message}`);
  }
  const transition = TRANSITION_CODES[doc.t as number];
  if (transition === undefined || !Array.isArray(doc.c))
    throw raftError('invalid-config', 'malformed ConfChange entry');
  const changes = (doc.c as unknown[]).map((c): ConfChangeSingle => {
    const pair = c as [number, string];
    const type = TYPE_CODES[pair[0]];
    if (type === undefined || typeof pair[1] !== 'string')
      throw raftError('invalid-config', 'malformed ConfChange entry');
    return { type, nodeId: pair[1] };
  });
  const cc: ConfChange =
    typeof doc.x === 'string'
      ? { transition, changes, context: new Uint8Array(Buffer.from(doc.x, 'base64')) }
      : { transition, changes };
  return cc;
}
