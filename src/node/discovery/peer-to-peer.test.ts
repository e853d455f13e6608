import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../base/testing/fake-clock.js';
import type { GossipEntry } from '../../wire/packets.js';
import type { DiscoveryHost } from './discovery.js';
import { PeerToPeerDiscovery } from './peer-to-peer.js';

/** A node as discovery sees it: records every dial; `members` are the connected peers that listen. */
function fakeHost(members: GossipEntry[], clients: string[] = []) {
  const dials: string[] = [];
  const host: DiscoveryHost = {
    nodeId: 'self',
    connect: (address) => {
      dials.push(address);
      return new Promise(() => {}); // never completes: every dial stays in flight
    },
    isConnected: (id) => members.some((m) => m.id === id) || clients.includes(id),
    connectedPeers: () => members,
    peerIds: () => [...members.map((m) => m.id), ...clients],
    sendGossip: () => {},
  };
  return { host, dials };
}

const entries = (n: number, host = '10.0.0.1'): GossipEntry[] =>
  Array.from({ length: n }, (_, i) => ({ id: `n${i}`, address: `${host}:${1000 + i}`, incarnation: 'x' }));

describe('peer-to-peer discovery bounds what gossip can make a node do', () => {
  it('one GOSSIP of 2,000 entries starts at most maxGossipDialsPerInterval dials per interval', async () => {
    const clock = new FakeClock();
    const { host, dials } = fakeHost([{ id: 'member', address: '10.0.0.9:7400', incarnation: 'm' }]);
    const discovery = new PeerToPeerDiscovery({ seeds: [], timer: clock, maxGossipDialsPerInterval: 16 });
    await discovery.start(host);
    const list = entries(2000);
    discovery.gossip('member', list);
    assert.equal(dials.length, 16, 'not 2,000 sockets at once');
    discovery.gossip('member', list);
    assert.equal(dials.length, 16, 'repeating the message within the interval adds nothing');
    clock.advance(1000);
    discovery.gossip('member', list);
    assert.equal(dials.length, 32, 'the next interval allows the next 16');
    assert.equal(new Set(dials).size, 32, 'an address is dialed once while its dial is in flight');
    await discovery.stop();
  });

  it('ignores gossip from a peer that is not connected (a stranger), not from a client', async () => {
    const { host, dials } = fakeHost([{ id: 'member', address: '10.0.0.9:7400', incarnation: 'm' }], ['client']);
    const discovery = new PeerToPeerDiscovery({ seeds: [], timer: new FakeClock() });
    await discovery.start(host);
    discovery.gossip('stranger', entries(3));
    assert.deepEqual(dials, []);
    // A client connected to both sides of a healed partition is what reintroduces the members.
    discovery.gossip('client', entries(3));
    assert.equal(dials.length, 3);
    await discovery.stop();
  });

  it('dials only well-formed, specific addresses that are not this node', async () => {
    const { host, dials } = fakeHost([{ id: 'member', address: '10.0.0.9:7400', incarnation: 'm' }]);
    const discovery = new PeerToPeerDiscovery({ seeds: [], timer: new FakeClock() });
    await discovery.start(host);
    const bad = ['0.0.0.0:7401', '[::]:7401', 'no-port', 'host:99999', ':7401'];
    discovery.gossip('member', [
      ...bad.map((address, i) => ({ id: `bad${i}`, address, incarnation: 'x' })),
      { id: 'self', address: '10.0.0.2:1', incarnation: 'x' },
      { id: 'good', address: '10.0.0.3:7401', incarnation: 'x' },
    ]);
    assert.deepEqual(dials, ['10.0.0.3:7401']);
    await discovery.stop();
  });
});
