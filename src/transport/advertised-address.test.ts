import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { concreteHost, formatAddress, isWildcardHost, type NetworkInterfaces } from './advertised-address.js';
import { silentLogger } from './logger.js';
import { TcpTransport } from './tcp-transport.js';

const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo =>
  ({
    address,
    family,
    internal,
    netmask: '',
    mac: '',
    cidr: null,
    ...(family === 'IPv6' ? { scopeid: 0 } : {}),
  }) as NetworkInterfaceInfo;

describe('the address a node listening on every interface advertises', () => {
  it('prefers an external IPv4, then a routable IPv6, then loopback', () => {
    const lo = [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)];
    assert.equal(concreteHost({ lo, eth0: [nic('fe80::1', 'IPv6'), nic('10.1.2.3', 'IPv4')] }), '10.1.2.3');
    assert.equal(concreteHost({ lo, eth0: [nic('fe80::1', 'IPv6'), nic('2001:db8::7', 'IPv6')] }), '2001:db8::7');
    assert.equal(concreteHost({ lo, eth0: [nic('fe80::1', 'IPv6')] }), '127.0.0.1');
    assert.equal(concreteHost({} as NetworkInterfaces), '127.0.0.1');
  });

  it('recognizes wildcard hosts and brackets IPv6', () => {
    for (const h of ['0.0.0.0', '::', '[::]', '::0']) assert.equal(isWildcardHost(h), true, h);
    for (const h of ['127.0.0.1', '::1', 'localhost', '10.0.0.1']) assert.equal(isWildcardHost(h), false, h);
    assert.equal(formatAddress('2001:db8::7', 7401), '[2001:db8::7]:7401');
    assert.equal(formatAddress('10.0.0.1', 7401), '10.0.0.1:7401');
  });

  it('a TCP transport on 0.0.0.0 never returns 0.0.0.0 as the address to dial, and says what it chose', async () => {
    const lines: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => lines.push(m) };
    const limits = { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 20 };
    const transport = new TcpTransport({
      host: '0.0.0.0',
      port: 0,
      ...limits,
      logger,
      interfaces: () => ({ lo: [nic('127.0.0.1', 'IPv4', true)], eth0: [nic('127.0.0.1', 'IPv4')] }),
    });
    const address = await transport.listen(() => {});
    await transport.close();
    assert.match(address!, /^127\.0\.0\.1:\d+$/);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /0\.0\.0\.0:\d+.*127\.0\.0\.1:\d+.*advertise/);
    // With an advertise address, that is what peers dial, and nothing needs saying.
    const advertised = new TcpTransport({
      host: '0.0.0.0',
      port: 0,
      ...limits,
      logger,
      advertise: 'node-7.example:9000',
    });
    assert.equal(await advertised.listen(() => {}), 'node-7.example:9000');
    await advertised.close();
    assert.equal(lines.length, 1);
  });
});
