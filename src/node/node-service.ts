import type { PeerView } from './node.js';
import type { ServiceDefinition } from './service.js';

/** What `$node.info` returns: a node's identity, services and health. */
export interface NodeStatus {
  readonly id: string;
  readonly address: string | null;
  readonly state: string;
  readonly uptimeMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly inFlight: number;
  readonly pendingCalls: number;
  readonly connections: number;
  readonly services: { name: string; actions: string[]; events: string[] }[];
  readonly nodeVersion: string;
  readonly pid: number;
}

interface NodeLike {
  readonly id: string;
  readonly address: string | null;
  nodes(): PeerView[];
  stats(): { inFlight: number; pendingCalls: number; uptimeMs: number; state: string; connections: number };
}

/** The `$node` service every node hosts: everything is a service, introspection included. */
export function createNodeService(node: NodeLike): ServiceDefinition {
  return {
    name: '$node',
    actions: {
      info: (): NodeStatus => {
        const mem = process.memoryUsage();
        const stats = node.stats();
        const self = node.nodes()[0]!;
        return {
          id: node.id,
          address: node.address,
          state: stats.state,
          uptimeMs: stats.uptimeMs,
          rssBytes: mem.rss,
          heapUsedBytes: mem.heapUsed,
          inFlight: stats.inFlight,
          pendingCalls: stats.pendingCalls,
          connections: stats.connections,
          services: self.services
            .filter((s) => s.name !== '$node')
            .map((s) => ({ name: s.name, actions: [...s.actions], events: s.events.map((e) => e.pattern) })),
          nodeVersion: process.version,
          pid: process.pid,
        };
      },
      nodes: () => node.nodes(),
      ping: () => ({ id: node.id, time: Date.now() }),
    },
  };
}
