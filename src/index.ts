/**
 * Parley: distributed communication for TypeScript.
 * The public API: nodes and services, errors, and the lower layers for those who extend Parley.
 */

export { type AeadAlgorithm, DEFAULT_AEAD } from './base/aead.js';
export type { BackoffOptions } from './base/backoff.js';
export type { KvAuthApi, KvAuthChange } from './cluster/client/kv-auth-api.js';
export {
  connectKv,
  KvClient,
  kvFor,
} from './cluster/client/kv-client.js';
export { KvIdempotencyStore, type KvIdempotencyStoreOptions } from './cluster/client/kv-idempotency-store.js';
export type { KvWatch, WatchHost, WatchOptions } from './cluster/client/kv-watch.js';
export type { LeaseKeeper } from './cluster/client/lease-keeper.js';
export {
  type ConnectQueuesOptions,
  type ConsumeOptions,
  type Consumption,
  connectQueues,
  type FetchOptions,
  type PartitionView,
  type PublishAck,
  type PublishOptions,
  QueueClient,
  type QueueClientOptions,
  type QueueMessage,
  queuesFor,
  type StreamView,
} from './cluster/client/queue-client.js';
export type {
  CompactResult,
  ConnectKvOptions,
  DeleteOptions,
  DeleteResult,
  ElectionOptions,
  GetOptions,
  KvClientOptions,
  LeaseGrantResult,
  LockOptions,
  MembershipResult,
  PutOptions,
  PutResult,
  RangeArg,
  ReadOptions,
  TxnOpArg,
  TxnRequest,
  TxnResult,
} from './cluster/client/request-types.js';
export type {
  Bytes,
  CompareArg,
  KvAction,
  KvContract,
  KvMemberStatus,
  KvParams,
  KvPermissionRange,
  KvPermissionSpec,
  KvReply,
  MemberStatus,
  RetryId,
  TxnOpWire,
  WatchParams,
} from './cluster/contract.js';
export type { Election } from './cluster/recipes/election.js';
export type { Lock } from './cluster/recipes/lock.js';
export type { RecipeClient } from './cluster/recipes/recipe-client.js';
export {
  createRegisteredNode,
  RegistryDiscovery,
  type RegistryOptions,
} from './cluster/registry/registry-discovery.js';
/** The Raft groups a member hosts, for inspection (`KvServer.groups`); not a stable API. */
export type { GroupHost } from './cluster/server/group-host.js';
/** A member's internal state, for inspection (`KvServer.member`); not a stable API. */
export type { KvMember, KvMemberOptions } from './cluster/server/kv-member.js';
export { createServer, type KvServer, type ServerOptions, startServer } from './cluster/server/start-server.js';
export type { AuthCommand } from './kv/auth/auth-commands.js';
export type {
  AuthStamp,
  KvAuthStatus,
  KvCaller,
  KvPermission,
  KvPermissionType,
  KvRoleInfo,
  KvUserInfo,
} from './kv/auth/auth-types.js';
export type { Compare, CompareOp, CompareTarget } from './kv/commands.js';
export type {
  EventType,
  KeyRangeSpec,
  KeyValue,
  KvEvent,
  KvResult,
  LeaseInfo,
  RangeOptions,
  RangeResult,
  SortOrder,
  SortTarget,
} from './kv/types.js';
export {
  type AuditEntry,
  type AuditEvent,
  AuditLog,
  type AuditRecord,
  type AuditSink,
} from './node/authorization/audit-log.js';
export { Authorizer, type AuthorizerOptions, type DenialCounts } from './node/authorization/authorizer.js';
export {
  CompiledPolicy,
  type Decision,
  decide,
  type Permission,
  type PermissionKind,
} from './node/authorization/decision.js';
export type { KeySpan } from './node/authorization/key-spans.js';
export {
  type Policy,
  type PolicyFormat,
  type PolicyRule,
  parsePolicy,
  policyFormatOf,
  validatePolicy,
} from './node/authorization/policy.js';
export {
  type Balancer,
  type CallOutcome,
  type Endpoint,
  type PickRequest,
  RoundRobinBalancer,
} from './node/balancer.js';
export type {
  CallOptionExtensions,
  CallOptions,
  Context,
  ContextInit,
  EmitOptions,
  EventContext,
  Messenger,
} from './node/context.js';
export type { Discovery, DiscoveryHost } from './node/discovery/discovery.js';
export { PeerToPeerDiscovery, type PeerToPeerOptions } from './node/discovery/peer-to-peer.js';
export type { LocalAction } from './node/local-services.js';
export type { ActionInvoke, CallHandler, Middleware, MiddlewareHost, OutgoingCall } from './node/middleware.js';
export { createNode, ParleyNode, type PeerView } from './node/node.js';
export type { AuthChanges } from './node/node-auth.js';
export type { NodeStatus } from './node/node-service.js';
export type { NodeOptions } from './node/options.js';
export {
  type ActionHandler,
  type ActionOptionExtensions,
  type ActionOptions,
  type ActionSpec,
  type AnyContract,
  type AnyEvents,
  type ContractOf,
  type ContractShape,
  defineService,
  type EventHandler,
  type EventOptions,
  type EventShape,
  type EventSpec,
  type LifecycleContext,
  type ServiceDefinition,
} from './node/service.js';
/** What a hosted Raft group runs (`ServerOptions.groups`): a deterministic state machine over committed entries. */
export type {
  AckKind,
  ConsumerConfig,
  ConsumerInfo,
  ConsumerMode,
  DeadLetter,
  DeliverFrom,
  DiscardPolicy,
  MessageHeaders,
  PartitionInfo,
  RetentionPolicy,
  StoredMessage,
  StreamConfig,
} from './queue/types.js';
export type { SnapshotInSlices, StateMachine } from './raft/driver.js';
export type { ConfState, Entry, EntryType, NodeId, Snapshot, SnapshotMetadata } from './raft/types.js';
export type { DataKey, DataKeyring, EncryptionAtRestOptions } from './raft/wal/data-keyring.js';
export {
  createTraffic,
  Traffic,
  type TrafficCallOptions,
  type TrafficConfig,
  type TrafficPolicies,
} from './traffic/index.js';
export type { Connection, ConnectionHandlers, PeerIdentity } from './transport/connection.js';
export { type ConnectionRefusal, REFUSAL_REASONS, type RefusalReason } from './transport/connection-refusal.js';
export { createConsoleLogger, type Logger, type LogLevel, silentLogger } from './transport/logger.js';
export { MemoryNetwork, MemoryTransport } from './transport/memory-transport.js';
export type { Principal, PrincipalSource } from './transport/principal.js';
export type { AuthOptions, ConnectInfo, TrustedKey, TrustList } from './transport/security/auth-options.js';
export {
  FrameOpener,
  FrameSealer,
  type OpenOptions,
  type Ordering,
  SEAL_OVERHEAD,
  type SealOptions,
} from './transport/security/frame-sealer.js';
export type { AuthMethod } from './transport/security/handshake-auth.js';
export type { KeyScheduleOptions } from './transport/security/key-schedule.js';
export { generateNodeKeys } from './transport/security/node-keys.js';
export { REPLAY_WINDOW_SIZE, type ReplayVerdict, ReplayWindow } from './transport/security/replay-window.js';
export { isSealError, type SealErrorReason } from './transport/security/seal-error.js';
export {
  SEALED_FRAME_OVERHEAD,
  SealedConnection,
  type SealedConnectionOptions,
} from './transport/security/sealed-connection.js';
export {
  deriveSessionKeys,
  type EphemeralKeyPair,
  generateEphemeral,
  type SessionKeys,
} from './transport/security/session-keys.js';
export type { TokenOptions } from './transport/security/token-verifier.js';
export type { TlsOptions } from './transport/tls-options.js';
export type { OutboundLimits, Transport } from './transport/transport.js';
export type { CodecName } from './wire/codec.js';
export type { Frame, PacketType } from './wire/frame.js';
export type { GossipEntry, Meta, NodeInfo, RequestOptions, ServiceInfo } from './wire/packets.js';
export { ParleyError } from './wire/parley-error.js';
export { type ErrorCode, StatusCode } from './wire/status.js';
