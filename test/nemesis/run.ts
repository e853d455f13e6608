/**
 * One nemesis run: a 3-member `parley server` cluster, concurrent KV clients, a watcher on every
 * key from revision 1, and one or more nemeses for a given time; then the cluster is made whole,
 * the watcher catches up, and the history and the watch are checked. Used by the CI test
 * (nemesis.test.ts) and by `npm run nemesis` (main.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../src/base/random.js';
import { delay, type Log, ServerCluster } from './cluster.js';
import { type FaultCounts, type FaultKind, runNemesis } from './faults.js';
import { connectKv, type KvClientLike, KvClientTarget } from './kv-client-target.js';
import type { WatchedEvent } from './target.js';
import { judge, type Verdict } from './verdict.js';
import { Workload, type WorkloadStats } from './workload.js';

export interface RunOptions {
  /** The nemeses to run, one after the other, each for `msPerFault`. */
  readonly faults: readonly FaultKind[];
  readonly msPerFault: number;
  readonly seed: number;
  readonly clients?: number;
  /** Even: multi-key txns use pairs of keys. */
  readonly keys?: number;
  /** Time budget of the linearizability check (default 60 s); past it the verdict is 'unknown'. */
  readonly checkTimeoutMs?: number;
  /** The client's per-operation deadline (it retries inside it). */
  readonly clientTimeoutMs?: number;
  readonly log?: Log;
}

export interface RunReport {
  readonly seed: number;
  readonly faults: readonly FaultKind[];
  readonly durationMs: number;
  readonly stats: WorkloadStats;
  readonly opsPerSecond: number;
  readonly faultCounts: FaultCounts;
  readonly verdict: Verdict;
  /** Set when the watch ended with an error before it was cancelled. */
  readonly watchError?: string;
  /** Where the data directories were kept (only when the run failed). */
  readonly keptData?: string;
  readonly ok: boolean;
}

export function leaderOf(status: unknown): string | undefined {
  if (typeof status !== 'object' || status === null) return undefined;
  const s = status as Record<string, unknown>;
  for (const field of ['leader', 'lead', 'leaderId']) {
    const v = s[field];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string') {
      return (v as { id: string }).id;
    }
  }
  if (Array.isArray(s.members)) {
    const leader = (s.members as { id?: unknown; role?: unknown }[]).find((m) => m.role === 'leader');
    if (typeof leader?.id === 'string') return leader.id;
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function untilOk<T>(what: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end)
        throw new Error(`${what} did not succeed within ${timeoutMs} ms: ${(err as Error).message}`);
      await delay(200);
    }
  }
}

export async function runNemesisTest(options: RunOptions): Promise<RunReport> {
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const clientCount = options.clients ?? 4;
  const clientTimeoutMs = options.clientTimeoutMs ?? 5000;
  const root = mkdtempSync(join(tmpdir(), 'parley-nemesis-'));
  log(
    `nemesis: seed ${options.seed}, faults ${options.faults.join(',')}, ${options.msPerFault} ms each, ${clientCount} clients, ${options.keys ?? 6} keys, data ${root}`,
  );
  const cluster = await ServerCluster.start(root, log);
  const clients: KvClientLike[] = [];
  let ok = false;
  let keep = false;
  try {
    const connect = async () => {
      const c = await connectKv({ servers: cluster.initialAddresses, timeoutMs: clientTimeoutMs, logger: 'silent' });
      clients.push(c);
      return c;
    };
    const control = new KvClientTarget(await connect());
    await untilOk('a first read of the new cluster', () => control.readAll(), 60_000);
    const leader = async () => {
      try {
        return leaderOf(await withTimeout(control.client.status(), 2000, 'status'));
      } catch {
        return undefined;
      }
    };

    const watcher = new KvClientTarget(await connect());
    const events: WatchedEvent[] = [];
    let watchError: string | undefined;
    const watch = watcher.watchAll(1, (batch) => events.push(...batch));
    void watch.closed.then((err) => {
      if (err) watchError = err.message;
    });

    const targets: KvClientTarget[] = [];
    for (let i = 0; i < clientCount; i++) targets.push(new KvClientTarget(await connect()));
    const workload = new Workload({ targets, clients: clientCount, keys: options.keys ?? 6, random });
    const started = Date.now();
    workload.start();
    const faultCounts: FaultCounts = {};
    for (const kind of options.faults) {
      log(` nemesis ${kind} for ${options.msPerFault} ms`);
      const counts = await runNemesis(kind, {
        cluster,
        random,
        log,
        leader,
        admin: (action, params) =>
          action === 'add'
            ? control.client.cluster.add(params.id, params.address ?? '')
            : control.client.cluster.remove(params.id),
        until: Date.now() + options.msPerFault,
      });
      for (const [what, n] of Object.entries(counts))
        faultCounts[`${kind}: ${what}`] = (faultCounts[`${kind}: ${what}`] ?? 0) + n;
      log(`  ${kind} done: ${JSON.stringify(counts)}; ${workload.stats().ops} ops so far`);
    }
    // A healthy tail: the cluster must serve again after the faults.
    await delay(2000);
    await workload.stop();
    const durationMs = Date.now() - started;
    const final = await untilOk('the final read', () => control.readAll(), 60_000);
    await untilOk(
      `the watcher to reach revision ${final.revision}`,
      async () => {
        const last = events[events.length - 1]?.modRevision ?? 0;
        if (last < final.revision && watchError === undefined) throw new Error(`watcher at ${last}`);
      },
      60_000,
    ).catch((err: Error) => log(`!! ${err.message}`));
    watch.cancel();
    const history = workload.history();
    const verdict = judge({
      history,
      watchEvents: events,
      final,
      ...(options.checkTimeoutMs !== undefined ? { checkTimeoutMs: options.checkTimeoutMs } : {}),
    });
    keep = verdict.linearizable !== 'ok' || !verdict.watch.ok;
    if (keep) saveForReplay(root, history, events);
    const stats = workload.stats();
    ok = verdict.linearizable !== 'illegal' && verdict.watch.ok && watchError === undefined;
    const report: RunReport = {
      seed: options.seed,
      faults: options.faults,
      durationMs,
      stats,
      opsPerSecond: Math.round((stats.ops / durationMs) * 1000),
      faultCounts,
      verdict,
      ...(watchError !== undefined ? { watchError } : {}),
      ...(ok && verdict.linearizable === 'ok' ? {} : { keptData: root }),
      ok,
    };
    log(describeReport(report));
    return report;
  } finally {
    await Promise.all(clients.map((c) => withTimeout(c.close(), 10_000, 'client close').catch(() => {})));
    await cluster.shutdown();
    if (ok && !keep) rmSync(root, { recursive: true, force: true });
  }
}

/** Writes the history and the watch events next to the kept data directories, for checking again offline. */
function saveForReplay(root: string, history: readonly unknown[], events: readonly WatchedEvent[]): void {
  const unknownAsNull = (_key: string, value: unknown) => (typeof value === 'symbol' ? null : value);
  writeFileSync(join(root, 'history.json'), JSON.stringify(history, unknownAsNull));
  writeFileSync(join(root, 'watch-events.json'), JSON.stringify(events));
}

export function describeReport(r: RunReport): string {
  const v = r.verdict;
  const lines = [
    `nemesis ${r.faults.join(',')} seed ${r.seed}: ${r.ok ? 'PASS' : 'FAIL'}`,
    `  history: ${v.operations} operations (${r.stats.unknown} unknown outcomes) in ${(r.durationMs / 1000).toFixed(1)} s = ${r.opsPerSecond} ops/s; ${JSON.stringify(r.stats.byOp)}`,
    `  faults: ${JSON.stringify(r.faultCounts)}`,
    `  linearizability: ${v.linearizable} (checked in ${v.checkMs} ms)`,
    `  watch: ${v.watch.events} events over ${v.watch.revisions} revisions, ${v.watch.ok ? 'in order, no gap, no duplicate' : 'PROBLEMS'}`,
  ];
  for (const p of v.watch.problems) lines.push(`    - ${p}`);
  if (r.watchError) lines.push(`  watch ended with an error: ${r.watchError}`);
  if (r.stats.errors.length > 0) lines.push(`  client errors: ${r.stats.errors.join(' | ')}`);
  if (v.explanation) lines.push(v.explanation);
  if (r.keptData) lines.push(`  data directories kept in ${r.keptData}`);
  return lines.join('\n');
}
