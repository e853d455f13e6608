/**
 * Parley: distributed communication for TypeScript.
 * The public API: nodes and services, errors, and the lower layers for those who extend Parley.
 */

export {
  connectKv,
  KvClient,
  kvFor,
} from './cluster/client/kv-client.js';
export type { KvWatch, WatchOptions } from './cluster/client/kv-watch.js';
export type { LeaseKeeper } from './cluster/client/lease-keeper.js';
export type { Bytes, ConnectKvOptions, KvClientOptions } from './cluster/client/request-types.js';
export type { MemberStatus } from './cluster/contract.js';
export type { Election } from './cluster/recipes/election.js';
export type { Lock } from './cluster/recipes/lock.js';
export {
  createRegisteredNode,
  RegistryDiscovery,
  type RegistryOptions,
} from './cluster/registry/registry-discovery.js';
export { type KvServer, type ServerOptions, startServer } from './cluster/server/start-server.js';
export type { KeyValue, KvEvent, RangeResult } from './kv/types.js';
export { type Balancer, RoundRobinBalancer } from './node/balancer.js';
export type { CallOptions, Context, EmitOptions, EventContext } from './node/context.js';
export type { Discovery, DiscoveryHost } from './node/discovery/discovery.js';
export { PeerToPeerDiscovery } from './node/discovery/peer-to-peer.js';
export type { ActionInvoke, CallHandler, Middleware, OutgoingCall } from './node/middleware.js';
export { createNode, ParleyNode, type PeerView } from './node/node.js';
export type { NodeStatus } from './node/node-service.js';
export type { NodeOptions } from './node/options.js';
export {
  type ActionHandler,
  type ActionOptions,
  type AnyContract,
  type ContractOf,
  defineService,
  type EventHandler,
  type ServiceDefinition,
} from './node/service.js';
export {
  createTraffic,
  Traffic,
  type TrafficCallOptions,
  type TrafficConfig,
  type TrafficPolicies,
} from './traffic/index.js';
export type { PeerIdentity } from './transport/connection.js';
export { createConsoleLogger, type Logger, type LogLevel, silentLogger } from './transport/logger.js';
export { MemoryNetwork, MemoryTransport } from './transport/memory-transport.js';
export type { TlsOptions } from './transport/tls-options.js';
export type { Meta } from './wire/packets.js';
export { ParleyError } from './wire/parley-error.js';
export { type ErrorCode, StatusCode } from './wire/status.js';
