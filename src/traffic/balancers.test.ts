import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../base/random.js';
import { FakeClock } from '../base/testing/fake-clock.js';
import type { Balancer, Endpoint } from '../node/balancer.js';
import { RoundRobinBalancer } from '../node/balancer.js';
import { BALANCER_NAMES, createBalancer } from './balancer-factory.js';
import { LeastOutstandingBalancer } from './least-outstanding.js';
import { LocalityBalancer } from './locality.js';
import { PeakEwmaBalancer } from './peak-ewma.js';
import { RandomBalancer } from './random-balancer.js';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.js';

function ep(nodeId: string, meta: Record<string, unknown> = {}): Endpoint {
  return { nodeId, meta };
}
const abc = [ep('a'), ep('b'), ep('c')];

function picks(b: Balancer, list: readonly Endpoint[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(b.pick(list, {})!.nodeId);
  return out;
}

function counts(ids: string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const id of ids) c[id] = (c[id] ?? 0) + 1;
  return c;
}

describe('every strategy', () => {
  for (const name of BALANCER_NAMES) {
    it(`${name}: one candidate is always picked`, () => {
      const b = createBalancer(name, { random: seededRandom(1), clock: new FakeClock() });
      assert.equal(b.pick([ep('x')], { options: { hashKey: 'k' } })?.nodeId, 'x');
    });

    it(`${name}: prefers nodes not yet tried, falls back when all were tried`, () => {
      const b = createBalancer(name, { random: seededRandom(2), clock: new FakeClock() });
      for (let i = 0; i < 50; i++) {
        const got = b.pick(abc, { options: { hashKey: `k${i}` }, exclude: new Set(['a', 'b']) });
        assert.equal(got?.nodeId, 'c');
      }
      assert.ok(b.pick(abc, { options: { hashKey: 'k' }, exclude: new Set(['a', 'b', 'c']) }));
    });
  }

  it('createBalancer rejects unknown names', () => {
    assert.throws(() => createBalancer('nope' as never), TypeError);
  });
});

describe('RoundRobinBalancer', () => {
  it('cycles in order', () => {
    assert.deepEqual(picks(new RoundRobinBalancer(), abc, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
  });
});

describe('RandomBalancer', () => {
  it('is roughly uniform and deterministic with a seeded random', () => {
    const c = counts(picks(new RandomBalancer({ random: seededRandom(7) }), abc, 3000));
    for (const id of ['a', 'b', 'c']) assert.ok(c[id]! > 900 && c[id]! < 1100, `${id}: ${c[id]}`);
    const again = picks(new RandomBalancer({ random: seededRandom(7) }), abc, 20);
    assert.deepEqual(again, picks(new RandomBalancer({ random: seededRandom(7) }), abc, 20));
  });
});

describe('WeightedRoundRobinBalancer', () => {
  it('gives the smooth nginx sequence for weights 5,1,1', () => {
    const list = [ep('a', { weight: 5 }), ep('b', { weight: 1 }), ep('c', { weight: 1 })];
    assert.deepEqual(picks(new WeightedRoundRobinBalancer(), list, 7), ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  it('splits in proportion to weight; missing or bad weights count as 1', () => {
    const list = [ep('a', { weight: 3 }), ep('b', { weight: 'x' }), ep('c', { weight: -2 }), ep('d')];
    assert.deepEqual(counts(picks(new WeightedRoundRobinBalancer(), list, 600)), { a: 300, b: 100, c: 100, d: 100 });
  });
});

describe('LeastOutstandingBalancer', () => {
  it('avoids the busier of the two sampled nodes', () => {
    const b = new LeastOutstandingBalancer({ random: seededRandom(3) });
    for (let i = 0; i < 10; i++) b.onStart(ep('a'), {});
    const c = counts(picks(b, abc, 300));
    // Two distinct samples always include a less loaded peer, so 'a' never wins.
    assert.equal(c.a, undefined);
    assert.ok(c.b! > 100 && c.c! > 100);
  });

  it('tracks in-flight counts and never goes below zero', () => {
    const b = new LeastOutstandingBalancer();
    b.onStart(ep('a'), {});
    b.onStart(ep('a'), {});
    b.onEnd(ep('a'));
    assert.equal(b.inflight('a'), 1);
    b.onEnd(ep('a'));
    b.onEnd(ep('a'));
    assert.equal(b.inflight('a'), 0);
  });

  it('keeps in-flight balanced under a closed loop', () => {
    const b = new LeastOutstandingBalancer({ random: seededRandom(4) });
    const list = [ep('a'), ep('b'), ep('c'), ep('d')];
    for (let i = 0; i < 40; i++) b.onStart(b.pick(list, {})!);
    const loads = list.map((e) => b.inflight(e.nodeId));
    assert.ok(Math.max(...loads) - Math.min(...loads) <= 2, `loads ${loads}`);
  });
});

describe('PeakEwmaBalancer', () => {
  function feed(b: PeakEwmaBalancer, clock: FakeClock, nodeId: string, latencyMs: number, ok = true): void {
    b.onStart(ep(nodeId), {});
    clock.advance(1);
    b.onEnd(ep(nodeId), {}, { ok, latencyMs });
  }

  it('reacts to a latency peak at once and forgets it slowly', () => {
    const clock = new FakeClock();
    const b = new PeakEwmaBalancer({ clock, decayMs: 1000 });
    feed(b, clock, 'a', 10);
    feed(b, clock, 'a', 500);
    assert.equal(b.cost('a'), 500);
    feed(b, clock, 'a', 10);
    assert.ok(b.cost('a') > 400, `a fast sample right after a peak barely moves the cost: ${b.cost('a')}`);
  });

  it('with a sample weight floor, a jitter peak on a busy node is forgotten within ~1/α samples', () => {
    // feed() takes 1 ms per sample: Δt = 1 ms, so the time-weighted step alone keeps e^(−1/1000) ≈ 0.999.
    const after = (sampleWeight: number) => {
      const clock = new FakeClock();
      const b = new PeakEwmaBalancer({ clock, decayMs: 1000, sampleWeight });
      feed(b, clock, 'a', 2);
      feed(b, clock, 'a', 20); // one sample caught in a pause of the whole process
      for (let i = 0; i < 30; i++) feed(b, clock, 'a', 2);
      return b.cost('a');
    };
    assert.ok(after(0) > 15, `time-weighted only: still near the peak after 30 samples (${after(0)})`);
    assert.ok(after(0.1) < 3, `α 0.1: back near 2 ms (${after(0.1)})`);
  });

  it('sends most traffic away from a slow node', () => {
    const clock = new FakeClock();
    const b = new PeakEwmaBalancer({ clock, random: seededRandom(5) });
    feed(b, clock, 'a', 10);
    feed(b, clock, 'b', 10);
    feed(b, clock, 'c', 300);
    const c = counts(picks(b, abc, 300));
    assert.equal(c.c, undefined, 'a P2C pair always holds a fast node, which wins');
  });

  it('penalises fast failures', () => {
    const clock = new FakeClock();
    const b = new PeakEwmaBalancer({ clock, random: seededRandom(6), failurePenaltyMs: 1000 });
    feed(b, clock, 'a', 20);
    feed(b, clock, 'b', 20);
    feed(b, clock, 'c', 1, false);
    assert.equal(b.cost('c'), 1000);
    assert.equal(counts(picks(b, abc, 200)).c, undefined);
  });

  it('weighs in-flight calls: load = cost × (pending + 1)', () => {
    const clock = new FakeClock();
    const b = new PeakEwmaBalancer({ clock, random: seededRandom(8) });
    const list = [ep('a'), ep('b')];
    feed(b, clock, 'a', 10);
    feed(b, clock, 'b', 30);
    for (let i = 0; i < 5; i++) b.onStart(ep('a'), {});
    assert.equal(b.pick(list, {})?.nodeId, 'b');
  });

  it('a node with calls in flight and no sample yet is avoided', () => {
    const clock = new FakeClock();
    const b = new PeakEwmaBalancer({ clock, random: seededRandom(9) });
    feed(b, clock, 'a', 200);
    b.onStart(ep('b'), {});
    assert.equal(b.pick([ep('a'), ep('b')], {})?.nodeId, 'a');
  });

  it('decays an old peak over time so the node is probed again', () => {
    const clock = new FakeClock();
    const b = new PeakEwmaBalancer({ clock, decayMs: 1000, random: seededRandom(10) });
    feed(b, clock, 'a', 50);
    feed(b, clock, 'b', 2000);
    assert.equal(b.pick([ep('a'), ep('b')], {})?.nodeId, 'a');
    clock.advance(5000); // b's peak decays to 2000·e^-5 ≈ 13.5 ms; a then reports a fresh 50 ms sample
    feed(b, clock, 'a', 50);
    assert.ok(b.cost('b') < b.cost('a'), `${b.cost('b')} < ${b.cost('a')}`);
    assert.equal(b.pick([ep('a'), ep('b')], {})?.nodeId, 'b');
  });
});

describe('LocalityBalancer', () => {
  const list = [ep('n1', { zone: 'z1' }), ep('n2', { zone: 'z1' }), ep('n3', { zone: 'z2' }), ep('n4', { zone: 'z2' })];

  it('prefers the local node, then the local zone, then anyone', () => {
    const b = new LocalityBalancer(new RoundRobinBalancer(), { localNodeId: 'n3', localZone: 'z2' });
    assert.equal(b.pick(list, {})?.nodeId, 'n3');
    assert.equal(b.pick(list, { exclude: new Set(['n3']) })?.nodeId, 'n4');
    const third = b.pick(list, { exclude: new Set(['n3', 'n4']) })?.nodeId;
    assert.ok(third === 'n1' || third === 'n2');
  });

  it('spreads over the local zone with the inner strategy', () => {
    const b = new LocalityBalancer(new RoundRobinBalancer(), { localZone: 'z1' });
    assert.deepEqual(picks(b, list, 4), ['n1', 'n2', 'n1', 'n2']);
  });

  it('falls back to all when no candidate is in the zone; forwards onStart/onEnd', () => {
    const inner = new LeastOutstandingBalancer({ random: seededRandom(11) });
    const b = new LocalityBalancer(inner, { localZone: 'z9', zoneKey: 'zone' });
    assert.ok(b.pick(list, {}));
    b.onStart(ep('n1'), {});
    assert.equal(inner.inflight('n1'), 1);
    b.onEnd(ep('n1'), {}, { ok: true, latencyMs: 1 });
    assert.equal(inner.inflight('n1'), 0);
  });

  it('createBalancer wraps with locality when asked', () => {
    const b = createBalancer('random', { random: seededRandom(12), locality: { localNodeId: 'n2' } });
    assert.equal(b.pick(list, {})?.nodeId, 'n2');
  });
});
