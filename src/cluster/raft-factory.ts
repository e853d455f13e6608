import type { RaftConfig } from '../raft/core/config.js';
import type { RawNodeApi } from '../raft/driver.js';
import { SoloRawNode, soloBootstrap } from './solo-raw-node.js';

/**
 * Where the cluster layer gets its raft core from: one place to swap.
 * TEMPORARY: until the real RawNode lands on main this is a single-voter stand-in.
 */
export function createRawNode(config: RaftConfig): RawNodeApi {
  return new SoloRawNode(config);
}

export const bootstrapCluster = soloBootstrap;
