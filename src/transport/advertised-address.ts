import type { NetworkInterfaceInfo } from 'node:os';

/** What os.networkInterfaces() returns. */
export type NetworkInterfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** True for a host that means "every interface" when listening, and nothing when dialed. */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '::0' || h === '0:0:0:0:0:0:0:0';
}

/** host:port, with IPv6 hosts in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The host peers should dial for a node that listens on every interface (0.0.0.0 or ::): the
 * first external IPv4 address, else the first external IPv6 address that is not link-local (it
 * would need a zone), else the IPv4 loopback (a node alone on a machine without a network).
 * Telling peers to dial 0.0.0.0 makes them dial themselves. Pure: interfaces are passed in.
 */
export function concreteHost(interfaces: NetworkInterfaces): string {
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const external = all.filter((i) => !i.internal);
  const v4 = external.find((i) => i.family === 'IPv4' || (i.family as unknown) === 4);
  if (v4) return v4.address;
  const v6 = external.find(
    (i) => (i.family === 'IPv6' || (i.family as unknown) === 6) && !i.address.toLowerCase().startsWith('fe80'),
  );
  if (v6) return v6.address;
  return '127.0.0.1';
}
