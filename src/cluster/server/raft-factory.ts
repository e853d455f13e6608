import { bootstrapCluster as bootstrap } from '../../raft/bootstrap.js';
import type { RaftConfig } from '../../raft/core/config.js';
import { RawNode } from '../../raft/core/raw-node.js';
import type { RawNodeApi } from '../../raft/driver.js';

/** Where the cluster layer gets its raft core from: one place to swap it (e.g. for a simulator). */
export function createRawNode(config: RaftConfig): RawNodeApi {
  return new RawNode(config);
}

export const bootstrapCluster = bootstrap;
