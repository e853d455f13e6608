/**
 * The compared systems by name. Each peer module is imported only when asked for, so a process running one system
 * does not load (or pay memory for) the others.
 */
import type { PeerSystem } from './peer-system.js';

/** The secured Parley variants of the security benchmark (bench/peers/parley-secure.ts), run only on request. */
export const SECURE_SYSTEMS = ['sec-plain', 'sec-tls', 'sec-secret', 'sec-keys', 'sec-authz', 'sec-mtls'] as const;

const LOADERS: Record<string, () => Promise<PeerSystem>> = {
  parley: async () => (await import('./parley.js')).parley,
  pingpong: async () => (await import('./ping-pong.js')).pingPong,
  'parley-baseline': async () => (await import('./parley.js')).parleyBaseline(),
  bare: async () => (await import('./bare-echo.js')).bareEcho,
  moleculer: async () => (await import('./moleculer.js')).moleculer,
  nats: async () => (await import('./nats.js')).nats,
  grpc: async () => (await import('./grpc.js')).grpcJs,
  ...Object.fromEntries(
    SECURE_SYSTEMS.map((name) => [name, async () => (await import('./parley-secure.js')).loadSecureSystem(name)]),
  ),
};

/** All known system names, Parley first (ratios are taken against it). */
export const SYSTEM_NAMES: readonly string[] = Object.keys(LOADERS);

/** Systems run only when asked for by name (`--systems`): an A/B against another build of Parley, the secured variants. */
export const ON_REQUEST_SYSTEMS: readonly string[] = ['parley-baseline', ...SECURE_SYSTEMS];

/** Systems that answer calls but take no events (the ping-pong floor): left out of the events benchmark. */
export const RPC_ONLY_SYSTEMS: readonly string[] = ['pingpong'];

export function loadPeerSystem(name: string): Promise<PeerSystem> {
  const load = LOADERS[name];
  if (!load) throw new Error(`unknown system '${name}' (known: ${SYSTEM_NAMES.join(', ')})`);
  return load();
}
