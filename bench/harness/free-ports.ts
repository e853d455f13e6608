/**
 * Ports for servers that must know each other's addresses before they start (etcd peers, raft members): each is
 * taken by listening on port 0 and released at once. Another process could grab one in between; the window is
 * small, and a server that fails to bind fails its benchmark loudly rather than measuring the wrong thing.
 */
import { createServer, type Server } from 'node:net';

function listenAnywhere(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** `count` distinct free loopback ports (held open together while chosen, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, listenAnywhere));
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}
