import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../base/testing/fake-clock.js';
import { ParleyError } from '../wire/parley-error.js';
import { HedgingPolicy } from './hedging-policy.js';
import { LatencyQuantiles } from './latency-quantiles.js';
import { OutlierDetector } from './outlier-detector.js';
import type { PolicyContext } from './policy.js';
import { TokenRetryBudget } from './retry-budget.js';

describe('OutlierDetector', () => {
  const nodes = Array.from({ length: 10 }, (_, i) => ({ nodeId: `n${i}`, meta: {} }));

  it('ejects after consecutive failures, for base × times-ejected, and lets the node back', () => {
    const clock = new FakeClock();
    const d = new OutlierDetector({ clock, consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionPercent: 50 });
    for (const e of nodes) d.record(e.nodeId, true);
    for (let i = 0; i < 3; i++) d.record('n1', false);
    assert.equal(d.isEjected('n1'), true);
    assert.deepEqual(
      d.filter(nodes.slice(0, 3)).map((e) => e.nodeId),
      ['n0', 'n2'],
    );
    clock.advance(1000);
    assert.equal(d.isEjected('n1'), false);
    for (let i = 0; i < 3; i++) d.record('n1', false);
    clock.advance(1999);
    assert.equal(d.isEjected('n1'), true, 'second ejection lasts 2 × base');
    clock.advance(1);
    assert.equal(d.isEjected('n1'), false);
  });

  it('ejects a node whose failure rate is well above its peers at the end of an interval', () => {
    const clock = new FakeClock();
    const d = new OutlierDetector({
      clock,
      intervalMs: 1000,
      consecutiveFailures: 1000,
      minRequests: 10,
      maxEjectionPercent: 20,
    });
    for (let i = 0; i < 20; i++) {
      for (const e of nodes) d.record(e.nodeId, e.nodeId === 'n3' ? i % 5 === 0 : i % 10 !== 0);
    }
    assert.equal(d.isEjected('n3'), false, 'judged only at the interval end');
    clock.advance(1000);
    d.record('n0', true);
    assert.equal(d.isEjected('n3'), true);
    assert.equal(d.ejectedCount, 1);
  });

  it('a node healthy for a whole interval earns back a step of its ejection multiplier', () => {
    const clock = new FakeClock();
    const d = new OutlierDetector({
      clock,
      intervalMs: 5000,
      consecutiveFailures: 2,
      baseEjectionMs: 1000,
      maxEjectionPercent: 50,
    });
    for (const e of nodes) d.record(e.nodeId, true);
    d.record('n1', false);
    d.record('n1', false); // 1st ejection: 1 s
    clock.advance(1000);
    d.record('n1', false);
    d.record('n1', false); // 2nd ejection: 2 s
    clock.advance(4000); // interval ends at 5 000 with n1 back in
    d.record('n1', true);
    clock.advance(5000); // a whole healthy interval: multiplier 2 → 1
    d.record('n1', true);
    d.record('n1', false);
    d.record('n1', false); // next ejection is the 2nd step again: 2 s, not 3 s
    clock.advance(1999);
    assert.equal(d.isEjected('n1'), true);
    clock.advance(1);
    assert.equal(d.isEjected('n1'), false);
  });

  it('never ejects more than maxEjectionPercent of nodes (at least one)', () => {
    const clock = new FakeClock();
    const d = new OutlierDetector({ clock, consecutiveFailures: 2, maxEjectionPercent: 10 });
    for (const e of nodes) d.record(e.nodeId, true);
    for (const e of nodes) for (let i = 0; i < 2; i++) d.record(e.nodeId, false);
    assert.equal(d.ejectedCount, 1);
    assert.equal(d.filter(nodes).length, 9);
  });
});

describe('LatencyQuantiles', () => {
  it('reports nearest-rank quantiles over the last samples', () => {
    const q = new LatencyQuantiles(100, 1);
    assert.equal(q.quantile(0.5), undefined);
    for (let i = 1; i <= 100; i++) q.record(i);
    assert.equal(q.quantile(0.95), 95);
    assert.equal(q.quantile(0.5), 50);
    for (let i = 0; i < 100; i++) q.record(1000);
    assert.equal(q.quantile(0.5), 1000, 'old samples slid out');
  });
});

describe('HedgingPolicy', () => {
  function attempt(clock: FakeClock, plan: Record<number, { ms: number; fail?: boolean }>, log: string[]) {
    return (ctx: PolicyContext) =>
      new Promise<string>((resolve, reject) => {
        const { ms, fail } = plan[ctx.hedge]!;
        log.push(`start${ctx.hedge}@${clock.now()}`);
        const cancel = clock.setTimeout(
          () => (fail ? reject(new ParleyError('UNAVAILABLE', 'x')) : resolve(`h${ctx.hedge}`)),
          ms,
        );
        ctx.signal.addEventListener('abort', () => {
          cancel();
          log.push(`abort${ctx.hedge}`);
          reject(ctx.signal.reason);
        });
      });
  }

  it('starts a second copy after the delay; the first success wins and the loser is aborted', async () => {
    const clock = new FakeClock();
    const h = new HedgingPolicy({ timer: clock, delayMs: 50, maxHedges: 1 });
    const log: string[] = [];
    const p = h.execute(attempt(clock, { 0: { ms: 500 }, 1: { ms: 100 } }, log), { call: { idempotent: true } });
    await clock.advanceAsync(200);
    assert.equal(await p, 'h1');
    assert.deepEqual(log, ['start0@0', 'start1@50', 'abort0']);
    assert.equal(clock.pendingTimers, 0);
  });

  it('caps the copies, and a failed copy starts the next at once', async () => {
    const clock = new FakeClock();
    const h = new HedgingPolicy({ timer: clock, delayMs: 50, maxHedges: 2 });
    const log: string[] = [];
    const p = h.execute(attempt(clock, { 0: { ms: 10, fail: true }, 1: { ms: 1000 }, 2: { ms: 30 } }, log), {
      call: { idempotent: true },
    });
    await clock.advanceAsync(2000);
    assert.equal(await p, 'h2');
    assert.deepEqual(log, ['start0@0', 'start1@10', 'start2@60', 'abort1']);
  });

  it('does not hedge non-idempotent calls; all copies failing rejects', async () => {
    const clock = new FakeClock();
    const h = new HedgingPolicy({ timer: clock, delayMs: 5 });
    const log: string[] = [];
    const p = h.execute(attempt(clock, { 0: { ms: 100 } }, log));
    await clock.advanceAsync(200);
    assert.equal(await p, 'h0');
    assert.deepEqual(log, ['start0@0']);
    const q = h.execute(attempt(clock, { 0: { ms: 10, fail: true }, 1: { ms: 10, fail: true } }, log), {
      call: { idempotent: true },
    });
    q.catch(() => {});
    await clock.advanceAsync(100);
    await assert.rejects(q, (e: unknown) => ParleyError.is(e, 'UNAVAILABLE'));
  });

  it('spends the retry budget: no hedge while the budget refuses', async () => {
    const clock = new FakeClock();
    const budget = new TokenRetryBudget({ maxTokens: 4, tokenRatio: 0.1 });
    for (let i = 0; i < 2; i++) budget.onFailure();
    assert.equal(budget.canRetry(), false);
    const h = new HedgingPolicy({ timer: clock, delayMs: 10, budget });
    const log: string[] = [];
    const p = h.execute(attempt(clock, { 0: { ms: 100 }, 1: { ms: 1 } }, log), { call: { idempotent: true } });
    await clock.advanceAsync(200);
    assert.equal(await p, 'h0');
    assert.deepEqual(log, ['start0@0']);
  });

  it('uses the observed quantile as the delay once it has enough samples', () => {
    const quantiles = new LatencyQuantiles(100, 1);
    const h = new HedgingPolicy({ delayMs: 100, quantile: 0.95, quantiles, minSamples: 10 });
    for (let i = 1; i <= 9; i++) quantiles.record(i * 10);
    assert.equal(h.currentDelayMs(), 100);
    for (let i = 10; i <= 20; i++) quantiles.record(i * 10);
    assert.equal(h.currentDelayMs(), 190);
  });
});
