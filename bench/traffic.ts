/**
 * Traffic-management experiments (issue 5): `npm run bench -- traffic [--quick] [--only 1,3] [--rounds N]`
 *
 * Every experiment runs in this one process: a caller node and server nodes on an in-memory
 * network (src/traffic/test-mesh.ts), each node with its own Traffic layer. Service latency is
 * simulated with timers, so the numbers measure the policies' decisions, not CPU speed; timer
 * jitter on the shared 2-core machine still adds a few ms to tails. Each experiment prints a table
 * and its target with met / MISSED.
 *
 *  1. 5 servers, one 50 ms slower: p50/p99/p99.9 per strategy and peak-EWMA decay, `--rounds N` times;
 *     target ewma p99 ≤ round-robin p99 / 10 (ratios within a round; median over the rounds).
 *  2. 1 of 5 servers fails every call: success rate; target ≥ 99.9 % with retries + breaker + ejection.
 *  3. The whole service down: attempts per call; target ≤ 1.1 with the retry budget (vs maxAttempts without).
 *  4. Offered load 3× capacity: goodput and p99 of admitted calls; target goodput ≥ 80 % of capacity with
 *     adaptive limiting, p99 bounded, vs collapse without.
 *  5. Consistent hashing: keys moved when a 6th node joins 5; target 1/6 ± 2 points.
 */
import { availableParallelism } from 'node:os';
import { sleep as sleepOn } from '../src/base/abort.js';
import { liveTimer } from '../src/base/clock.js';
import type { Context } from '../src/node/context.js';
import type { ParleyNode } from '../src/node/node.js';
import type { ServiceDefinition } from '../src/node/service.js';
import { type BalancerOptions, createBalancer } from '../src/traffic/balancer-factory.js';
import { startMesh } from '../src/traffic/testing/test-mesh.js';
import { Traffic } from '../src/traffic/traffic.js';
import type { TrafficPolicies } from '../src/traffic/traffic-config.js';
import { ParleyError } from '../src/wire/parley-error.js';
import { formatTable } from './harness/table.js';

/** Simulated service time and pacing: timers that keep the process alive (base `sleep` defaults to unref'd ones). */
const sleep = (ms: number) => sleepOn(ms, undefined, liveTimer);

interface Options {
  quick: boolean;
  only: Set<number>;
  /** Rounds of experiment 1 (each runs every strategy once; ratios are taken within a round). */
  rounds: number;
}

function parse(args: string[]): Options {
  const o: Options = { quick: false, only: new Set([1, 2, 3, 4, 5]), rounds: 1 };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') o.quick = true;
    else if (args[i] === '--only') o.only = new Set(String(args[++i]).split(',').map(Number));
    else if (args[i] === '--rounds') o.rounds = Math.max(1, Number(args[++i]) || 1);
    else throw new Error(`unknown option '${args[i]}'; use --quick, --only 1,2,... and/or --rounds N`);
  }
  return o;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

async function stopAll(nodes: ParleyNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
}

/** Runs `total` calls keeping `concurrency` in flight; returns each call's latency (ms) and outcome. */
async function closedLoop(
  total: number,
  concurrency: number,
  call: (i: number) => Promise<unknown>,
): Promise<{ latencies: number[]; ok: number; failed: number; errors: Map<string, number> }> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const start = performance.now();
      try {
        await call(i);
        ok++;
        latencies.push(performance.now() - start);
      } catch (err) {
        failed++;
        const code = ParleyError.from(err).code;
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return { latencies, ok, failed, errors };
}

function service(name: string, handler: (id: string) => (p: unknown, ctx: Context) => unknown) {
  return (id: string): ServiceDefinition => ({ name, actions: { run: handler(id) } });
}

// ---- 1. one slow server -------------------------------------------------------------------

/**
 * The strategies of experiment 1. The ewma rows vary the peak-EWMA balancer's decay τ and its
 * per-sample weight floor α (see PeakEwmaOptions); 'ewma (default)' runs with the defaults.
 */
const SLOW_SETUPS: readonly (readonly [string, 'round-robin' | 'least-outstanding' | 'ewma', BalancerOptions])[] = [
  ['round-robin', 'round-robin', {}],
  ['least-outstanding', 'least-outstanding', {}],
  ['ewma τ 10 s, α 0 (Finagle)', 'ewma', { ewma: { decayMs: 10_000, sampleWeight: 0 } }],
  ['ewma τ 1 s, α 0', 'ewma', { ewma: { decayMs: 1_000, sampleWeight: 0 } }],
  ['ewma τ 10 s, α 0.1', 'ewma', { ewma: { decayMs: 10_000, sampleWeight: 0.1 } }],
  ['ewma (default: τ 1 s, α 0.1)', 'ewma', {}],
  // The default again, on its own mesh: how far two runs of one setting differ within a round.
  ['ewma (default, again)', 'ewma', {}],
];

/** One round of experiment 1: every setup on a fresh mesh; p99 and the share of calls sent to s5 per setup. */
async function slowServerRound(
  o: Options,
): Promise<{ rows: string[][]; p99: Map<string, number>; slowShare: Map<string, number> }> {
  const calls = o.quick ? 2000 : 6000;
  const warmup = 500;
  const concurrency = 10;
  const svc = service('slow', (id) => () => sleep(id === 's5' ? SLOW_BASE_MS + 50 : SLOW_BASE_MS).then(() => id));
  const rows: string[][] = [];
  const p99 = new Map<string, number>();
  const slowShare = new Map<string, number>();
  for (const [name, strategy, balancer] of SLOW_SETUPS) {
    const caller = new Traffic({ defaults: { strategy, retry: false, breaker: false }, balancer });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      ...['s1', 's2', 's3', 's4', 's5'].map((id) => ({ id, services: [svc(id)] })),
    ]);
    // Warm-up (not measured): JIT, and every strategy gets to see each node before the measured calls.
    await closedLoop(warmup, concurrency, () => nodes[0]!.call('slow.run'));
    const toSlow = { n: 0 };
    const fast: number[] = [];
    const r = await closedLoop(calls, concurrency, async () => {
      const t0 = performance.now();
      if ((await nodes[0]!.call('slow.run')) === 's5') toSlow.n++;
      else fast.push(performance.now() - t0);
    });
    fast.sort((a, b) => a - b);
    await stopAll(nodes);
    const l = r.latencies;
    p99.set(name, percentile(l, 0.99));
    slowShare.set(name, toSlow.n / calls);
    rows.push([
      name,
      String(r.ok),
      ms(percentile(l, 0.5)),
      ms(percentile(l, 0.99)),
      ms(percentile(l, 0.999)),
      pct(toSlow.n / calls),
      ms(percentile(fast, 0.99)),
    ]);
  }
  return { rows, p99, slowShare };
}

const SLOW_BASE_MS = 2;

async function slowServer(o: Options): Promise<void> {
  const calls = o.quick ? 2000 : 6000;
  console.log(
    `\n1. Five servers, s5 50 ms slower (others ${SLOW_BASE_MS} ms timer); ${calls} calls after 500 warm-up, 10 in flight, no retries; ${o.rounds} round(s)`,
  );
  const ratios = new Map<string, number[]>(SLOW_SETUPS.map(([name]) => [name, []]));
  const shares = new Map<string, number[]>(SLOW_SETUPS.map(([name]) => [name, []]));
  for (let round = 1; round <= o.rounds; round++) {
    const { rows, p99, slowShare } = await slowServerRound(o);
    const rr = p99.get('round-robin')!;
    for (const [name] of SLOW_SETUPS) {
      ratios.get(name)!.push(p99.get(name)! / rr);
      shares.get(name)!.push(slowShare.get(name)!);
    }
    console.log(`round ${round}, ${new Date().toISOString()}`);
    console.log(
      formatTable(
        ['strategy', 'ok', 'p50 ms', 'p99 ms', 'p99.9 ms', 'calls to s5', 'p99 of s1–s4 calls', 'p99 ÷ round-robin'],
        rows.map((row) => [...row, (p99.get(row[0]!)! / rr).toFixed(3)]),
      ),
    );
  }
  console.log('(p99 of s1–s4 calls: the floor any strategy can reach here, set by timer and scheduling jitter)');
  console.log('p99 ÷ round-robin p99, each ratio from one round (same run):');
  console.log(
    formatTable(
      ['strategy', 'ratios by round', 'min', 'median', 'max', 'rounds ≤ 0.1', 'median calls to s5'],
      SLOW_SETUPS.filter(([name]) => name !== 'round-robin').map(([name]) => {
        const r = ratios.get(name)!;
        const sorted = [...r].sort((a, b) => a - b);
        return [
          name,
          r.map((v) => v.toFixed(3)).join(' '),
          sorted[0]!.toFixed(3),
          percentile(sorted, 0.5).toFixed(3),
          sorted.at(-1)!.toFixed(3),
          `${r.filter((v) => v <= 0.1).length}/${r.length}`,
          pct(
            percentile(
              [...shares.get(name)!].sort((a, b) => a - b),
              0.5,
            ),
          ),
        ];
      }),
    ),
  );
  const defaults = ratios.get('ewma (default: τ 1 s, α 0.1)')!;
  const median = percentile(
    [...defaults].sort((a, b) => a - b),
    0.5,
  );
  console.log(
    `target: ewma p99 ≤ round-robin p99 / 10 — measured median ${median.toFixed(3)} over ${defaults.length} round(s) with the default decay: ${verdict(median <= 0.1)}`,
  );
}

// ---- 2. one failing server ----------------------------------------------------------------

async function failingServer(o: Options): Promise<void> {
  const calls = o.quick ? 3000 : 10_000;
  const concurrency = 10;
  const svc = service('pay', (id) => () => {
    if (id === 's5') throw new ParleyError('UNAVAILABLE', 's5 is broken');
    return sleep(1).then(() => id);
  });
  const setups: [string, TrafficPolicies][] = [
    ['no policies', { retry: false, breaker: false }],
    ['retries (budget)', { breaker: false, retry: { baseMs: 5 } }],
    ['breaker only', { retry: false }],
    [
      'retries + breaker + ejection',
      { retry: { baseMs: 5 }, outlier: { consecutiveFailures: 5, maxEjectionPercent: 20 } },
    ],
  ];
  const rows: string[][] = [];
  let target = 0;
  for (const [name, policies] of setups) {
    const caller = new Traffic({ defaults: { strategy: 'round-robin', ...policies } });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      ...['s1', 's2', 's3', 's4', 's5'].map((id) => ({ id, services: [svc(id)] })),
    ]);
    const r = await closedLoop(calls, concurrency, () => nodes[0]!.call('pay.run'));
    await stopAll(nodes);
    const rate = r.ok / calls;
    if (name === 'retries + breaker + ejection') target = rate;
    rows.push([name, String(calls), String(r.failed), pct(rate)]);
  }
  console.log(`\n2. One of five servers fails every call (UNAVAILABLE); ${calls} calls, ${concurrency} in flight`);
  console.log(formatTable(['policies', 'calls', 'failed', 'success'], rows));
  console.log(
    `target: success ≥ 99.9 % with retries + breaker + ejection — measured ${pct(target)}: ${verdict(target >= 0.999)}`,
  );
}

// ---- 3. whole service down ----------------------------------------------------------------

async function serviceDown(o: Options): Promise<void> {
  const calls = o.quick ? 500 : 2000;
  const concurrency = 10;
  let arrived = 0;
  const svc = service('down', () => () => {
    arrived++;
    throw new ParleyError('UNAVAILABLE', 'the whole service is down');
  });
  const retry = { maxAttempts: 3, baseMs: 1, maxMs: 5 };
  const setups: [string, TrafficPolicies][] = [
    ['retry ×3, no budget', { breaker: false, retry: { ...retry, budget: false } }],
    ['retry ×3 + budget', { breaker: false, retry }],
    ['retry ×3 + budget + breaker', { retry }],
  ];
  const rows: string[][] = [];
  const perCall = new Map<string, number>();
  for (const [name, policies] of setups) {
    arrived = 0;
    const caller = new Traffic({ defaults: policies });
    const nodes = await startMesh([
      { id: 'c', traffic: caller },
      ...['s1', 's2', 's3', 's4', 's5'].map((id) => ({ id, services: [svc(id)] })),
    ]);
    const r = await closedLoop(calls, concurrency, () => nodes[0]!.call('down.run'));
    await stopAll(nodes);
    perCall.set(name, arrived / calls);
    rows.push([name, String(calls), String(arrived), (arrived / calls).toFixed(3), String(r.failed)]);
  }
  console.log(`\n3. Whole service down (5 servers, all UNAVAILABLE); ${calls} calls, ${concurrency} in flight`);
  console.log(formatTable(['policies', 'calls', 'attempts sent', 'attempts/call', 'failed calls'], rows));
  const budget = perCall.get('retry ×3 + budget')!;
  console.log(
    `target: attempts ≤ 1.1 × calls with the budget (vs 3× without) — measured ${budget.toFixed(3)} (without: ${perCall
      .get('retry ×3, no budget')!
      .toFixed(3)}): ${verdict(budget <= 1.1)}`,
  );
}

// ---- 4. overload ----------------------------------------------------------------------------

/** A server resource with `workers` parallel workers and a FIFO queue; each request holds a worker `serviceMs`. */
function resource(workers: number, serviceMs: number) {
  let busy = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else busy--;
  };
  return async (): Promise<void> => {
    if (busy < workers) busy++;
    else await new Promise<void>((r) => queue.push(r));
    try {
      await sleep(serviceMs);
    } finally {
      release();
    }
  };
}

async function overload(o: Options): Promise<void> {
  const seconds = o.quick ? 3 : 6;
  const workers = 4;
  const serviceMs = 10;
  const deadlineMs = 500;
  const rows: string[][] = [];
  const build = (server: TrafficPolicies['server']) => {
    const work = resource(workers, serviceMs);
    const traffic = new Traffic({ defaults: { server: { idempotency: false, ...server } } });
    return { traffic, svc: { name: 'load', actions: { run: () => work().then(() => 'ok') } } };
  };
  // Capacity: a closed loop with exactly `workers` in flight, no queueing.
  let capacity = 0;
  {
    const { svc } = build({});
    const nodes = await startMesh([
      { id: 'c', traffic: new Traffic({ defaults: { retry: false } }) },
      { id: 's1', services: [svc] },
    ]);
    const start = performance.now();
    const r = await closedLoop(o.quick ? 600 : 1500, workers, () => nodes[0]!.call('load.run'));
    capacity = r.ok / ((performance.now() - start) / 1000);
    await stopAll(nodes);
  }
  const offered = 3 * capacity;
  const goodputs = new Map<string, { goodput: number; p99: number }>();
  const setups: [string, TrafficPolicies['server']][] = [
    ['no limiting', {}],
    ['AIMD shedding', { shedding: { algorithm: 'aimd', initial: 10, max: 200, slowMs: 100 } }],
    ['gradient shedding', { shedding: { algorithm: 'gradient', initial: 10, max: 200 } }],
  ];
  for (const [name, server] of setups) {
    const { traffic, svc } = build(server);
    const nodes = await startMesh([
      { id: 'c', traffic: new Traffic({ defaults: { retry: false, breaker: false } }) },
      // Without limiting thousands of abandoned requests are still queued at the end: do not wait for them.
      { id: 's1', traffic, services: [svc], drainTimeout: 500 },
    ]);
    const latencies: number[] = [];
    let sent = 0;
    let good = 0;
    let shed = 0;
    let late = 0;
    const inflight: Promise<void>[] = [];
    const start = performance.now();
    const end = start + seconds * 1000;
    // Open loop: sends at the offered rate whatever the answers, like independent users.
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) / 1000) * offered);
      for (; sent < due; sent++) {
        const t0 = performance.now();
        inflight.push(
          nodes[0]!.call('load.run', {}, { timeout: deadlineMs }).then(
            () => {
              good++;
              latencies.push(performance.now() - t0);
            },
            (err: unknown) => {
              if (ParleyError.is(err, 'RESOURCE_EXHAUSTED')) shed++;
              else late++;
            },
          ),
        );
      }
      await sleep(2);
    }
    const window = (performance.now() - start) / 1000;
    const goodInWindow = good;
    await Promise.all(inflight);
    await stopAll(nodes);
    latencies.sort((a, b) => a - b);
    const goodput = goodInWindow / window;
    goodputs.set(name, { goodput, p99: percentile(latencies, 0.99) });
    rows.push([
      name,
      String(sent),
      String(good),
      String(shed),
      String(late),
      goodput.toFixed(0),
      pct(goodput / capacity),
      ms(percentile(latencies, 0.5)),
      ms(percentile(latencies, 0.99)),
    ]);
  }
  console.log(
    `\n4. Offered load 3× capacity for ${seconds} s: one server, ${workers} workers × ${serviceMs} ms, FIFO queue; ` +
      `capacity measured ${capacity.toFixed(0)}/s, offered ${offered.toFixed(0)}/s open loop, caller deadline ${deadlineMs} ms`,
  );
  console.log(
    formatTable(
      ['server policy', 'sent', 'ok', 'shed', 'timed out', 'goodput/s', 'of capacity', 'p50 ms', 'p99 ms'],
      rows,
    ),
  );
  const aimd = goodputs.get('AIMD shedding')!;
  console.log(
    `target: goodput ≥ 80 % of capacity with adaptive limiting, bounded p99 — measured AIMD ${pct(
      aimd.goodput / capacity,
    )}, p99 ${ms(aimd.p99)} ms (deadline ${deadlineMs}); without: ${pct(goodputs.get('no limiting')!.goodput / capacity)}: ${verdict(
      aimd.goodput / capacity >= 0.8 && aimd.p99 < deadlineMs,
    )}`,
  );
}

// ---- 5. consistent hashing ------------------------------------------------------------------

async function hashing(o: Options): Promise<void> {
  const keys = o.quick ? 20_000 : 100_000;
  const five = ['s1', 's2', 's3', 's4', 's5'].map((nodeId) => ({ nodeId, meta: {} }));
  const six = [...five, { nodeId: 's6', meta: {} }];
  const rows: string[][] = [];
  let worst = 0;
  for (const algorithm of ['rendezvous', 'ring'] as const) {
    const b = createBalancer('hash', { hash: { algorithm } });
    let moved = 0;
    let elsewhere = 0;
    for (let k = 0; k < keys; k++) {
      const key = `user-${k}`;
      const before = b.pick(five, { options: { hashKey: key } })!.nodeId;
      const after = b.pick(six, { options: { hashKey: key } })!.nodeId;
      if (before !== after) {
        moved++;
        if (after !== 's6') elsewhere++;
      }
    }
    worst = Math.max(worst, Math.abs(moved / keys - 1 / 6));
    rows.push([`${algorithm} (balancer)`, String(keys), String(moved), pct(moved / keys), String(elsewhere)]);
  }
  // Through real nodes: the serving node of each key, before and after a 6th server joins.
  const meshKeys = o.quick ? 1000 : 3000;
  const svc = service('kv', (id) => () => id);
  const caller = new Traffic({ defaults: { strategy: 'hash', retry: false } });
  const nodes = await startMesh([
    { id: 'c', traffic: caller },
    ...['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => ({ id, services: [svc(id)] })),
  ]);
  const owners = async () => {
    const out: string[] = [];
    for (let k = 0; k < meshKeys; k++)
      out.push((await nodes[0]!.call('kv.run', {}, { hashKey: `user-${k}` })) as string);
    return out;
  };
  nodes[6]!.removeService('kv');
  await sleep(200);
  const before = await owners();
  nodes[6]!.addService(svc('s6'));
  await nodes[0]!.waitFor('kv.run');
  await sleep(200);
  const after = await owners();
  await stopAll(nodes);
  const meshMoved = before.filter((b, i) => b !== after[i]).length;
  const meshElsewhere = before.filter((b, i) => b !== after[i] && after[i] !== 's6').length;
  rows.push([
    'rendezvous (6 nodes, calls)',
    String(meshKeys),
    String(meshMoved),
    pct(meshMoved / meshKeys),
    String(meshElsewhere),
  ]);
  console.log(`\n5. Consistent hashing: a 6th node joins 5 (ideal share 1/6 = ${pct(1 / 6)})`);
  console.log(formatTable(['algorithm', 'keys', 'moved', 'moved share', 'moved not to the new node'], rows));
  console.log(
    `target: moved share within 1/6 ± 2 points (balancer, ${keys} keys) — worst |share − 1/6| ${(worst * 100).toFixed(
      2,
    )} points: ${verdict(worst <= 0.02)}`,
  );
}

export async function run(args: string[]): Promise<void> {
  const o = parse(args);
  console.log(`traffic benchmark — ${new Date().toISOString()}`);
  console.log(`machine: ${availableParallelism()} cpus (shared); node ${process.version}`);
  console.log(`command: npm run bench -- traffic ${args.join(' ')}`.trimEnd());
  const experiments: [number, (o: Options) => Promise<void>][] = [
    [1, slowServer],
    [2, failingServer],
    [3, serviceDown],
    [4, overload],
    [5, hashing],
  ];
  const started = performance.now();
  for (const [n, fn] of experiments) if (o.only.has(n)) await fn(o);
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
