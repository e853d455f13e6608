import { systemTimer } from '../../base/clock.js';
import { createNode, type ParleyNode } from '../../node/node.js';
import type { NodeOptions } from '../../node/options.js';
import { PartitionStateMachine } from '../../queue/partition-state-machine.js';
import type { StateMachine } from '../../raft/driver.js';
import { type EncryptionAtRestOptions, resolveEncryptionAtRest } from '../../raft/wal/data-keyring.js';
import { createConsoleLogger, type Logger, type LogLevel } from '../../transport/logger.js';
import type { Transport } from '../../transport/transport.js';
import { ParleyError } from '../../wire/parley-error.js';
import { createQueueService } from '../queue/queue-service.js';
import { createClusterService } from './cluster-service.js';
import { GroupHost } from './group-host.js';
import { KvMember, type KvMemberOptions } from './kv-member.js';
import { createKvService } from './kv-service.js';
import { createRaftService, encodeRaftStep, KV_GROUP, type RaftStepPart } from './raft-service.js';

export interface ServerOptions {
  readonly id: string;
  readonly dataDir: string;
  /** host:port to listen on (port 0: any free port). */
  readonly listen: string;
  /** host:port the other members dial, when it differs from `listen` (0.0.0.0, containers, NAT). */
  readonly advertise?: string;
  /**
   * The initial cluster: member id → host:port (this member may be left out). An address may be
   * null when it is not known in advance (tests on ephemeral ports): that member is then found
   * through the others' gossip.
   */
  readonly peers?: Readonly<Record<string, string | null>>;
  /** True: this member was added with `$cluster.add` and learns the configuration from the leader. */
  readonly join?: boolean;
  readonly logger?: Logger | LogLevel;
  /**
   * The member node's authorization policy (an object, or a JSON file re-read every second):
   * who may read and write which keys, and who the cluster members are. See docs/SECURITY.md.
   */
  readonly policy?: NodeOptions['policy'];
  /** Where audit entries go (default: the logger). */
  readonly audit?: NodeOptions['audit'];
  /**
   * How the member and its peers and clients prove who they are (a cluster secret, node keys with
   * a trust list, TLS certificates, tokens): passed to the member's node. Every member needs the
   * same mode; a member listening on a host other than loopback needs one (or `insecure`).
   */
  readonly auth?: NodeOptions['auth'];
  /** Listen on a host other than loopback without authentication, on purpose (one warning). */
  readonly insecure?: boolean;
  /** TLS for the member's connections (`mutual: true` to verify the dialers' certificates too). */
  readonly tls?: NodeOptions['tls'];
  /**
   * Encrypt the member's log and snapshots on disk (AES-256-GCM under a data key this server
   * holds): a key file (`ID:BASE64KEY` lines, from `parley keys gen --data-key`) or a keyring.
   * Protects a stolen disk, backup or snapshot copy, not a compromised server: docs/SECURITY.md.
   * Covers the KV group and every hosted group.
   */
  readonly encryptionAtRest?: EncryptionAtRestOptions;
  /** Replaces TCP (e.g. MemoryTransport in tests). */
  readonly transport?: Transport;
  /**
   * Largest frame of the member's node (default 16 MiB; every member must use the same). The
   * largest command a member accepts is derived from it (`maxCommandBytesFor`).
   */
  readonly maxFrameSize?: number;
  /** Most connections from one IP address (NodeOptions.maxConnectionsPerAddress, default 64). */
  readonly maxConnectionsPerAddress?: number;
  /** Most requests from one caller running at a time (NodeOptions.maxInFlightPerPeer, default 10,000). */
  readonly maxInFlightPerPeer?: number;
  /** Most watches one caller may hold on this member (default 1000; RESOURCE_EXHAUSTED past it). */
  readonly maxWatchesPerCaller?: number;
  /**
   * Hosts Raft groups besides the KV group (the partitions of streams): those the placement
   * records under `prefix` (default `$queue/placement/`) name this member for, each running the
   * state machine `stateMachine(groupId)` returns (GroupHost, group-host.ts). Absent: the
   * partitions of durable streams (PartitionStateMachine) with the `$queue` service, unless
   * `queues` is false.
   */
  readonly groups?: {
    readonly stateMachine: (groupId: string) => StateMachine<unknown>;
    readonly prefix?: string;
    /** Ticks between two looks at the placement records and the groups' leaders (default 4). */
    readonly checkEveryTicks?: number;
  };
  /** Host durable streams (`$queue`, docs/QUEUES.md; default true). Ignored when `groups` is given. */
  readonly queues?: boolean;
  readonly raft?: Partial<
    Pick<
      KvMemberOptions,
      'tickMs' | 'electionTick' | 'heartbeatTick' | 'snapshotEvery' | 'snapshotKeep' | 'leaseCheckMs' | 'checkpointMs'
    >
  >;
}

export interface KvServer {
  readonly node: ParleyNode;
  readonly member: KvMember;
  /** The Raft groups this member hosts from placement records (null without `groups`). */
  readonly groups: GroupHost<unknown> | null;
  /** host:port it listens on (the configured `listen` until started; then the bound port). */
  readonly address: string;
  /**
   * Resolves (never rejects) if this member is removed from the cluster: it then serves nothing
   * (UNAVAILABLE, reason 'member-removed') and has logged why; stop it. `parley server` exits 1.
   */
  readonly whenRemoved: Promise<ParleyError>;
  /** Listens, dials the other members and starts raft; idempotent (resolves with the first start). */
  start(): Promise<void>;
  /** Stops serving and closes the log. */
  stop(): Promise<void>;
}

/** Splits host:port (IPv6 in brackets). */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^\s:]+):(\d{1,5})$/.exec(address);
  if (m === null || Number(m[2]) > 65535) {
    throw new ParleyError('INVALID_ARGUMENT', `expected host:port, got '${address}'`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/**
 * Creates one cluster member, not started (see `start()`; `startServer` does both): a Parley
 * node offering `$kv`, `$raft` and `$cluster`, whose raft messages travel as one-way
 * `$raft.step` calls over the node's mesh. The node dials the other members (peer-to-peer
 * discovery with the peers as seeds), so the member id is the node id. Opens (or bootstraps)
 * the data directory at once.
 */
export function createServer(options: ServerOptions): KvServer {
  const { host, port } = splitHostPort(options.listen);
  const encryption = options.encryptionAtRest ? resolveEncryptionAtRest(options.encryptionAtRest) : undefined;
  const logger =
    typeof options.logger === 'object' ? options.logger : createConsoleLogger(options.id, options.logger ?? 'warn');
  const peers = { ...options.peers };
  const seeds = Object.entries(peers)
    .filter(([id, address]) => id !== options.id && address !== null)
    .map(([, address]) => address as string);
  const node = createNode({
    id: options.id,
    host,
    port,
    seeds,
    logger,
    gossipInterval: 500,
    ...(options.advertise ? { advertise: options.advertise } : {}),
    ...(options.transport ? { transport: options.transport } : {}),
    ...(options.maxFrameSize ? { maxFrameSize: options.maxFrameSize } : {}),
    maxConnectionsPerAddress: options.maxConnectionsPerAddress,
    maxInFlightPerPeer: options.maxInFlightPerPeer,
    ...(options.policy !== undefined ? { policy: options.policy } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.insecure ? { insecure: true } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  const voters = [...new Set([...Object.keys(peers), options.id])].sort();
  const lastSendError = new Map<string, number>();
  const sendStep = (to: string, parts: readonly RaftStepPart[]) => {
    try {
      node.send('$raft.step', encodeRaftStep(parts), { nodeId: to });
    } catch (err) {
      // Not connected (yet): raft resends (heartbeats, append retries) once the peer is back.
      // Anything else (the peer's queue full, a frame too large) is said, at most once per
      // second per peer: raft retries, but an operator must be able to see why it has to.
      if (ParleyError.is(err, 'UNAVAILABLE', 'NOT_FOUND')) return;
      const now = systemTimer.now();
      if (now - (lastSendError.get(to) ?? Number.NEGATIVE_INFINITY) < 1000) return;
      lastSendError.set(to, now);
      logger.error(`raft messages to '${to}' could not be sent: ${(err as Error).message}`);
    }
  };
  const member = new KvMember({
    ...options.raft,
    id: options.id,
    dataDir: options.dataDir,
    ...(encryption ? { encryption } : {}),
    initialVoters: options.join === true ? null : voters,
    knownPeers: Object.keys(peers).filter((id) => id !== options.id),
    send: (to, messages) => sendStep(to, [{ groupId: KV_GROUP, messages }]),
    logger,
    ...(options.maxFrameSize ? { maxFrameSize: options.maxFrameSize } : {}),
  });
  const groupOptions: ServerOptions['groups'] =
    options.groups ?? (options.queues === false ? undefined : { stateMachine: () => new PartitionStateMachine() });
  const groups =
    groupOptions === undefined
      ? null
      : new GroupHost<unknown>({
          id: options.id,
          dataDir: options.dataDir,
          ...(encryption ? { encryption } : {}),
          placements: member,
          stateMachine: groupOptions.stateMachine,
          send: sendStep,
          isHealthy: (id) => node.nodes().some((n) => n.id === id && n.connected),
          logger,
          prefix: groupOptions.prefix,
          checkEveryTicks: groupOptions.checkEveryTicks,
          raft: options.raft,
          maxFrameSize: options.maxFrameSize,
        });
  void member.whenRemoved.then(() => groups?.stop());
  const addressOf = (id: string) => node.nodes().find((n) => n.id === id)?.address ?? peers[id] ?? null;
  node.addService(
    createRaftService(
      { get: (groupId) => (groupId === KV_GROUP ? member : (groups?.get(groupId) ?? undefined)) },
      {
        logger,
        noticeNotMember: (to, appliedIndex, groupId) => {
          try {
            node.send('$raft.notMember', { appliedIndex, groupId }, { nodeId: to });
          } catch {
            // Not connected: it will send again and be told again.
          }
        },
      },
    ),
  );
  node.addService(
    createKvService(member, addressOf, node.authorization, { maxWatchesPerCaller: options.maxWatchesPerCaller }),
  );
  node.addService(createClusterService(member, addressOf, (entry) => node.authorization.record(entry)));
  const queues =
    groups !== null && options.groups === undefined
      ? createQueueService(member, groups, addressOf, { logger, authorizer: node.authorization })
      : null;
  if (queues !== null) node.addService(queues.service);
  let started: Promise<void> | null = null;
  return {
    node,
    member,
    groups,
    get address() {
      return node.address ?? options.listen;
    },
    whenRemoved: member.whenRemoved,
    start() {
      started ??= (async () => {
        try {
          await node.start();
        } catch (err) {
          member.stop();
          throw err;
        }
        member.start();
        groups?.start();
        queues?.start();
      })();
      return started;
    },
    async stop() {
      queues?.stop();
      await node.stop();
      groups?.stop();
      member.stop();
    },
  };
}

/** Creates a cluster member and starts it (`createServer` + `start()`). */
export async function startServer(options: ServerOptions): Promise<KvServer> {
  const server = createServer(options);
  await server.start();
  return server;
}
