import type { ConfState, NodeId } from '../types.js';
import type { ConfChange, ConfChangeSingle } from './conf-change.js';
import { entersJoint, isLeaveJoint } from './conf-change.js';
import { raftError } from './errors.js';
import type { JointConfig } from './quorum.js';

/**
 * Membership configuration transitions: pure functions from a configuration and a change to
 * the next configuration. They know nothing of progress, messages or logs; the raft state
 * machine reconciles its per-peer progress with the result.
 *
 * Invariants of a TrackerConfig (checked after every transition):
 *  - learners and learnersNext are disjoint from the incoming voters, and learners is disjoint
 *    from the outgoing voters;
 *  - learnersNext ⊆ outgoing voters (a voter demoted to learner during a joint config stays a
 *    voter of the outgoing half until the joint config is left);
 *  - outside a joint config, learnersNext is empty and autoLeave is false.
 */
export interface TrackerConfig {
  readonly voters: JointConfig;
  readonly learners: ReadonlySet<NodeId>;
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

export const EMPTY_CONFIG: TrackerConfig = {
  voters: { incoming: new Set(), outgoing: new Set() },
  learners: new Set(),
  learnersNext: new Set(),
  autoLeave: false,
};

export function isJoint(cfg: TrackerConfig): boolean {
  return cfg.voters.outgoing.size > 0;
}

/** Every node the config mentions (voters of both halves, learners, learnersNext), deterministic order. */
export function configMembers(cfg: TrackerConfig): NodeId[] {
  const seen = new Set<NodeId>();
  for (const s of [cfg.voters.incoming, cfg.voters.outgoing, cfg.learners, cfg.learnersNext]) {
    for (const id of s) seen.add(id);
  }
  return [...seen];
}

interface MutableConfig {
  incoming: Set<NodeId>;
  outgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

function clone(cfg: TrackerConfig): MutableConfig {
  return {
    incoming: new Set(cfg.voters.incoming),
    outgoing: new Set(cfg.voters.outgoing),
    learners: new Set(cfg.learners),
    learnersNext: new Set(cfg.learnersNext),
    autoLeave: cfg.autoLeave,
  };
}

function freeze(m: MutableConfig): TrackerConfig {
  const cfg: TrackerConfig = {
    voters: { incoming: m.incoming, outgoing: m.outgoing },
    learners: m.learners,
    learnersNext: m.learnersNext,
    autoLeave: m.autoLeave,
  };
  checkConfig(cfg);
  return cfg;
}

const fail = (msg: string): never => {
  throw raftError('invalid-config', `invalid configuration change: ${msg}`);
};

/** Throws if the config violates an invariant listed on TrackerConfig. */
export function checkConfig(cfg: TrackerConfig): void {
  const { incoming, outgoing } = cfg.voters;
  for (const id of cfg.learners) {
    if (incoming.has(id) || outgoing.has(id)) fail(`${id} is both a learner and a voter`);
  }
  for (const id of cfg.learnersNext) {
    if (!outgoing.has(id)) fail(`${id} is in learnersNext but not an outgoing voter`);
    if (incoming.has(id)) fail(`${id} is in learnersNext and an incoming voter`);
  }
  if (outgoing.size === 0) {
    if (cfg.learnersNext.size > 0) fail('learnersNext must be empty outside a joint config');
    if (cfg.autoLeave) fail('autoLeave must be false outside a joint config');
  }
}

function applyChanges(m: MutableConfig, changes: readonly ConfChangeSingle[]): void {
  for (const c of changes) {
    if (c.nodeId === '') fail('node id must not be empty');
    switch (c.type) {
      case 'AddNode':
        m.incoming.add(c.nodeId);
        m.learners.delete(c.nodeId);
        m.learnersNext.delete(c.nodeId);
        break;
      case 'AddLearnerNode':
        if (m.learners.has(c.nodeId)) break;
        m.incoming.delete(c.nodeId);
        // A voter of the outgoing half cannot become a learner until the joint config is left.
        if (m.outgoing.has(c.nodeId)) m.learnersNext.add(c.nodeId);
        else m.learners.add(c.nodeId);
        break;
      case 'RemoveNode':
        m.incoming.delete(c.nodeId);
        m.learners.delete(c.nodeId);
        m.learnersNext.delete(c.nodeId);
        break;
      default:
        fail(`unknown change type ${String((c as { type: unknown }).type)}`);
    }
  }
  if (m.incoming.size === 0) fail('removed all voters');
}

/** A change of at most one voter, applied directly. Not allowed in a joint config. */
export function simpleChange(cfg: TrackerConfig, changes: readonly ConfChangeSingle[]): TrackerConfig {
  if (isJoint(cfg)) fail('cannot apply a simple change in a joint config');
  const m = clone(cfg);
  applyChanges(m, changes);
  let diff = 0;
  for (const id of m.incoming) if (!cfg.voters.incoming.has(id)) diff++;
  for (const id of cfg.voters.incoming) if (!m.incoming.has(id)) diff++;
  if (diff > 1) fail('more than one voter changed without entering a joint config');
  return freeze(m);
}

/** Enters a joint config: outgoing = the current voters, incoming = the current voters with `changes` applied. */
export function enterJoint(
  cfg: TrackerConfig,
  autoLeave: boolean,
  changes: readonly ConfChangeSingle[],
): TrackerConfig {
  if (isJoint(cfg)) fail('config is already joint');
  if (cfg.voters.incoming.size === 0) fail("can't make a zero-voter config joint");
  const m = clone(cfg);
  m.outgoing = new Set(m.incoming);
  applyChanges(m, changes);
  m.autoLeave = autoLeave;
  return freeze(m);
}

/** Leaves a joint config: drops the outgoing half and turns learnersNext into learners. */
export function leaveJoint(cfg: TrackerConfig): TrackerConfig {
  if (!isJoint(cfg)) fail("can't leave a non-joint config");
  const m = clone(cfg);
  for (const id of m.learnersNext) m.learners.add(id);
  m.learnersNext.clear();
  m.outgoing = new Set();
  m.autoLeave = false;
  return freeze(m);
}

/** The transition a ConfChange asks for. */
export function applyConfChangeToConfig(cfg: TrackerConfig, cc: ConfChange): TrackerConfig {
  if (isLeaveJoint(cc)) return leaveJoint(cfg);
  const { joint, autoLeave } = entersJoint(cc);
  return joint ? enterJoint(cfg, autoLeave, cc.changes) : simpleChange(cfg, cc.changes);
}

export function configToConfState(cfg: TrackerConfig): ConfState {
  return {
    voters: [...cfg.voters.incoming],
    votersOutgoing: [...cfg.voters.outgoing],
    learners: [...cfg.learners],
    learnersNext: [...cfg.learnersNext],
    autoLeave: cfg.autoLeave,
  };
}

/** Rebuilds a config from a ConfState (e.g. from a snapshot), validating it. */
export function configFromConfState(cs: ConfState): TrackerConfig {
  const cfg: TrackerConfig = {
    voters: { incoming: new Set(cs.voters), outgoing: new Set(cs.votersOutgoing) },
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
  checkConfig(cfg);
  return cfg;
}
