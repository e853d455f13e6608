/**
 * Parley with its security layers on, one system per configuration, for the security benchmark (issue 11 §5).
 * Same service and client as bench/peers/parley.ts (`bench.echo`, MessagePack, logger 'error'), but every client
 * dials out only (port null: a TLS client without a certificate cannot listen), so the plaintext baseline here is
 * `sec-plain`, not the rpc benchmark's `parley`.
 *
 *   sec-plain   no TLS, no authentication: the baseline
 *   sec-tls     TLS with a server certificate, clients verify it; no client authentication
 *   sec-secret  auth.secret (cluster secret), every frame sealed (AEAD)
 *   sec-keys    auth.key + auth.trust (Ed25519 node keys), every frame sealed
 *   sec-authz   sec-keys + a policy of ten rules on the server: authentication + authorization + AEAD
 *   sec-mtls    mutual TLS, auth.tls (the certificate is the identity) + the same policy
 *
 * Credentials come from bench/peers/security-material.ts. `handshakes(n)` makes n fresh client nodes one after
 * another (id 'bench-hs'), each created, started, connected and authenticated, answered once, and stopped; an
 * untimed pause separates them (see SAME_ID_PAUSE_MS).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createNode, type NodeOptions, type Policy } from '../../src/index.js';
import type { HandshakeSample, PeerClient, PeerServer, PeerSystem } from './peer-system.js';
import type { SECURE_SYSTEMS } from './registry.js';
import { type BenchNodeId, loadSecurityMaterial, type SecurityMaterial } from './security-material.js';

export type SecureSystemName = (typeof SECURE_SYSTEMS)[number];

/**
 * A realistic policy: groups, a deny list, and ten rules of which the echo rule is one of the last an allowed call
 * reaches, so the matcher does representative work on every call.
 */
export const BENCH_POLICY: Policy = {
  version: 1,
  description: 'security benchmark: a service mesh of a few teams',
  groups: {
    clients: ['bench-client', 'bench-hs'],
    ops: ['ops-*', 'oncall'],
    billing: ['billing-*'],
  },
  deny: [
    { name: 'no-admin-from-clients', principals: ['group:clients'], call: ['admin.*', '$node.*'] },
    { name: 'nobody-fakes-audit', principals: ['*'], emit: ['audit.**'] },
  ],
  allow: [
    { name: 'ops-everything', principals: ['group:ops'], call: ['**'], emit: ['**'], subscribe: ['**'] },
    { name: 'billing-charges', principals: ['group:billing'], call: ['billing.*', 'invoices.get'] },
    { name: 'orders-read', principals: ['orders-*'], call: ['orders.get', 'orders.list'] },
    { name: 'inventory', principals: ['inventory-*'], call: ['inventory.*'], emit: ['inventory.changed'] },
    { name: 'audit-readers', principals: ['auditor'], subscribe: ['audit.**'] },
    { name: 'guests', principals: ['unauthenticated'], call: ['status.get'] },
    { name: 'metrics', principals: ['*'], emit: ['metrics.*'] },
    { name: 'bench-echo', principals: ['group:clients'], call: ['bench.echo'] },
    { name: 'bench-events', principals: ['group:clients'], emit: ['bench.tick'] },
    { name: 'kv-config', principals: ['group:ops'], kvRead: ['config/'], kvWrite: ['config/'] },
  ],
};

/** The security options of one side of one system (id: the node that uses them). */
export function securityOptions(system: SecureSystemName, id: BenchNodeId, m: SecurityMaterial): NodeOptions {
  const isServer = id === 'bench-server';
  const trustOfServer = { 'bench-client': m.keys['bench-client'].publicKey, 'bench-hs': m.keys['bench-hs'].publicKey };
  switch (system) {
    case 'sec-plain':
      return {};
    case 'sec-tls':
      return { tls: isServer ? { ...m.certs['bench-server'], ca: m.ca } : { ca: m.ca } };
    case 'sec-secret':
      return { auth: { secret: m.secret, encrypt: true } };
    case 'sec-keys':
    case 'sec-authz': {
      const trust = isServer ? trustOfServer : { 'bench-server': m.keys['bench-server'].publicKey };
      return {
        auth: { key: m.keys[id].secretKey, trust, encrypt: true },
        ...(isServer && system === 'sec-authz' ? { policy: BENCH_POLICY } : {}),
      };
    }
    case 'sec-mtls':
      return {
        tls: { ...m.certs[id], ca: m.ca, ...(isServer ? { mutual: true } : {}) },
        auth: { tls: true },
        ...(isServer ? { policy: BENCH_POLICY } : {}),
      };
  }
}

const DESCRIPTIONS: Record<SecureSystemName, string> = {
  'sec-plain': 'Parley, TCP loopback, no TLS, no authentication (the baseline)',
  'sec-tls': 'Parley over TLS (server certificate, P-256; clients verify it, no client authentication)',
  'sec-secret': 'Parley, auth.secret (cluster secret), every frame sealed (AEAD)',
  'sec-keys': 'Parley, auth.key + trust (Ed25519 node keys), every frame sealed (AEAD)',
  'sec-authz': 'Parley, node keys + sealing + a 10-rule policy on the server (authn + authz + AEAD)',
  'sec-mtls': 'Parley over mutual TLS, auth.tls (certificate identity) + the 10-rule policy',
};

/**
 * Between two fresh clients: they share the id 'bench-hs' (a key or certificate proves exactly one name), and a
 * server that has not yet seen the previous connection close refuses the next HELLO as a duplicate id.
 */
const SAME_ID_PAUSE_MS = 100;

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function secureSystem(name: SecureSystemName): PeerSystem {
  const options = (id: BenchNodeId) => securityOptions(name, id, loadSecurityMaterial());

  const startServer = async (): Promise<PeerServer> => {
    let delivered = 0;
    const server = createNode({
      id: 'bench-server',
      host: '127.0.0.1',
      port: 0,
      logger: 'error',
      ...options('bench-server'),
    });
    server.addService({
      name: 'bench',
      actions: { echo: (params: unknown) => params },
      events: {
        'bench.tick': () => {
          delivered++;
        },
      },
    });
    await server.start();
    if (!server.address) throw new Error('Parley server started without a listen address');
    return { address: server.address, eventsDelivered: () => delivered, stop: () => server.stop() };
  };

  const connect = async (id: BenchNodeId, address: string) => {
    const node = createNode({ id, port: null, seeds: [address], logger: 'error', ...options(id) });
    await node.start();
    await node.waitFor('bench.echo', 20_000);
    return node;
  };

  const startClient = async (address: string): Promise<PeerClient> => {
    const client = await connect('bench-client', address);
    return {
      call: (payload) => client.call('bench.echo', payload, { timeout: 10_000 }),
      emit: (payload) => client.emit('bench.tick', payload),
      emitWindow: 1000,
      handshakes: async (count): Promise<HandshakeSample> => {
        const times: number[] = [];
        for (let i = 0; i < count; i++) {
          const started = performance.now();
          const fresh = await connect('bench-hs', address);
          try {
            await fresh.call('bench.echo', { i }, { timeout: 10_000 });
            times.push(performance.now() - started);
          } finally {
            await fresh.stop();
          }
          // Untimed: the server must see the previous 'bench-hs' gone before the next may use the id.
          await sleep(SAME_ID_PAUSE_MS);
        }
        times.sort((a, b) => a - b);
        return {
          count,
          totalMs: times.reduce((s, t) => s + t, 0),
          p50Ms: median(times),
          meanMs: times.reduce((s, t) => s + t, 0) / times.length,
          maxMs: times.at(-1)!,
        };
      },
      stop: () => client.stop(),
    };
  };

  return { name, description: DESCRIPTIONS[name], startServer, startClient };
}

export function loadSecureSystem(name: SecureSystemName): PeerSystem {
  return secureSystem(name);
}
