import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../base/random.js';
import type { Endpoint } from '../node/balancer.js';
import { ConsistentHashBalancer, hashKeyOf } from './consistent-hash.js';

const nodes = (n: number): Endpoint[] => Array.from({ length: n }, (_, i) => ({ nodeId: `node-${i + 1}`, meta: {} }));
const KEYS = 100_000;

function assign(b: ConsistentHashBalancer, list: readonly Endpoint[]): string[] {
  const out = new Array<string>(KEYS);
  for (let i = 0; i < KEYS; i++) out[i] = b.pick(list, { options: { hashKey: `user-${i}` } })!.nodeId;
  return out;
}

for (const algorithm of ['rendezvous', 'ring'] as const) {
  describe(`ConsistentHashBalancer (${algorithm})`, () => {
    it('a 6th node joining 5 takes about 1/6 of the keys, all from the others, and nothing else moves', () => {
      const b = new ConsistentHashBalancer({ algorithm });
      const before = assign(b, nodes(5));
      const after = assign(b, nodes(6));
      let moved = 0;
      for (let i = 0; i < KEYS; i++) {
        if (before[i] !== after[i]) {
          moved++;
          assert.equal(after[i], 'node-6', 'a key only ever moves to the new node');
        }
      }
      const fraction = moved / KEYS;
      assert.ok(Math.abs(fraction - 1 / 6) <= 0.02, `moved ${(fraction * 100).toFixed(2)}%`);
    });

    it('removing one of 6 nodes moves only that node’s keys', () => {
      const b = new ConsistentHashBalancer({ algorithm });
      const before = assign(b, nodes(6));
      const after = assign(
        b,
        nodes(6).filter((e) => e.nodeId !== 'node-3'),
      );
      for (let i = 0; i < KEYS; i++) if (before[i] !== 'node-3') assert.equal(after[i], before[i]);
    });

    it('spreads keys roughly evenly and honours weights', () => {
      const b = new ConsistentHashBalancer({ algorithm });
      const list = [...nodes(3), { nodeId: 'heavy', meta: { weight: 3 } }];
      const c: Record<string, number> = {};
      for (const id of assign(b, list)) c[id] = (c[id] ?? 0) + 1;
      for (const e of nodes(3)) assert.ok(Math.abs(c[e.nodeId]! / KEYS - 1 / 6) < 0.03, `${e.nodeId}: ${c[e.nodeId]}`);
      assert.ok(Math.abs(c.heavy! / KEYS - 1 / 2) < 0.04, `heavy: ${c.heavy}`);
    });

    it('is stable regardless of candidate order; a retry goes to the key’s next choice', () => {
      const b = new ConsistentHashBalancer({ algorithm });
      const list = nodes(5);
      const reversed = [...list].reverse();
      for (let i = 0; i < 200; i++) {
        const first = b.pick(list, { options: { hashKey: `k${i}` } })!.nodeId;
        assert.equal(b.pick(reversed, { options: { hashKey: `k${i}` } })!.nodeId, first);
        const retry = b.pick(list, { options: { hashKey: `k${i}` }, exclude: new Set([first]) })!.nodeId;
        assert.notEqual(retry, first);
        const without = b.pick(
          list.filter((e) => e.nodeId !== first),
          { options: { hashKey: `k${i}` } },
        )!.nodeId;
        assert.equal(retry, without, 'next choice = owner if the tried node left');
      }
    });
  });
}

describe('hash keys', () => {
  it('reads request.key first, then meta or params, else picks at random', () => {
    assert.equal(hashKeyOf({ options: { hashKey: 'k' }, meta: { user: 'u' } }, { meta: 'user' }), 'k');
    assert.equal(hashKeyOf({ meta: { user: 'u' } }, { meta: 'user' }), 'u');
    assert.equal(hashKeyOf({ params: { id: 42 } }, { param: 'id' }), '42');
    assert.equal(
      hashKeyOf({ params: { id: 42 } }, (r) => `x${(r.params as { id: number }).id}`),
      'x42',
    );
    assert.equal(hashKeyOf({ params: {} }, { param: 'id' }), undefined);
    const b = new ConsistentHashBalancer({ key: { param: 'id' }, random: seededRandom(1) });
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(b.pick(nodes(4), { params: {} })!.nodeId);
    assert.equal(seen.size, 4);
    const same = new Set<string>();
    for (let i = 0; i < 20; i++) same.add(b.pick(nodes(4), { params: { id: 7 } })!.nodeId);
    assert.equal(same.size, 1);
  });
});
