/**
 * Parley's replicated KV store as a KV benchmark system: three `parley server` processes on loopback.
 * Not wired yet: the server command lands with the KV work (branch `kv`).
 */
import type { KvCluster } from './kv-cluster.js';
import { PeerUnavailableError } from './peer-system.js';

export async function startParleyKvCluster(): Promise<KvCluster> {
  throw new PeerUnavailableError('`parley server` is not available in this build yet');
}
