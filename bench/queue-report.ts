/**
 * Tables of the queue benchmark (bench/queue.ts): publish and e2e tables per payload with Parley ÷ system ratios
 * from the same run, Parley's partition scaling, and the targets. Pure formatting: every number comes from
 * the cells; a missing system or failed cell shows 'n/a' / its error, never a made-up value.
 */
import type { RpcSample } from './harness/closed-loop.js';
import { formatCount, formatMicros, formatRatio, formatTable } from './harness/table.js';
import { formatTargets, type TargetCheck } from './harness/targets.js';

export interface QueueCell {
  system: string;
  kind: 'publish' | 'e2e';
  payload: number;
  /** Publishers (and, in e2e, consumers). */
  count: number;
  partitions: number;
  /** A cell of the scaling table (not of the main tables). */
  scaling?: boolean;
  sample?: RpcSample;
  /** e2e: messages acked inside the measured window, per second. */
  ackedPerSec?: number;
  error?: string;
  serverCpuUsPerMsg?: number;
  clientCpuUsPerMsg?: number;
}

interface ReportOptions {
  systems: string[];
  payloads: number[];
  counts: number[];
  scaling: number[];
  durationMs: number;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** The cell's headline rate: publishes/s (publish) or acked/s (e2e). */
function rate(c: QueueCell | undefined): number | undefined {
  if (!c?.sample) return undefined;
  return c.kind === 'e2e' ? c.ackedPerSec : c.sample.callsPerSec;
}

function find(cells: QueueCell[], system: string, kind: QueueCell['kind'], payload: number, count: number) {
  return cells.find(
    (c) => !c.scaling && c.system === system && c.kind === kind && c.payload === payload && c.count === count,
  );
}

function status(c: QueueCell | undefined): string {
  if (c === undefined) return 'not run';
  if (!c.sample) return c.error ?? 'failed';
  return String(c.sample.errors);
}

function mainTable(cells: QueueCell[], o: ReportOptions, kind: QueueCell['kind'], payload: number): string {
  const rows: string[][] = [];
  for (const count of o.counts) {
    const parley = find(cells, 'parley', kind, payload, count);
    for (const system of o.systems) {
      const c = find(cells, system, kind, payload, count);
      const s = c?.sample;
      const row = [`n=${count} ${system}`, formatCount(rate(c))];
      if (kind === 'e2e') row.push(formatCount(s?.callsPerSec));
      row.push(
        formatMicros(s?.p50Us),
        formatMicros(s?.p99Us),
        status(c),
        formatMicros(c?.serverCpuUsPerMsg),
        formatMicros(c?.clientCpuUsPerMsg),
        formatRatio(ratio(rate(parley), rate(c))),
      );
      if (kind === 'publish') row.push(formatRatio(ratio(parley?.sample?.p99Us, s?.p99Us)));
      rows.push(row);
    }
  }
  const headers =
    kind === 'publish'
      ? [
          'cell',
          'publishes/s',
          'p50 µs',
          'p99 µs',
          'errors',
          'srv cpu µs/msg',
          'cli cpu µs/msg',
          'parley÷sys rate',
          'parley÷sys p99',
        ]
      : [
          'cell',
          'acked/s',
          'published/s',
          'pub p50 µs',
          'pub p99 µs',
          'errors',
          'srv cpu µs/msg',
          'cli cpu µs/msg',
          'parley÷sys acked',
        ];
  const title =
    kind === 'publish'
      ? `\nacked publish, ${payload} B payloads, 1 partition/queue, n publishers (${o.durationMs / 1000} s measured per cell)`
      : `\nend to end publish → consume → ack, ${payload} B, n publishers + n consumers (acked/s inside the window; cpu per acked message)`;
  return `${title}\n${formatTable(headers, rows)}`;
}

function scalingTable(cells: QueueCell[], o: ReportOptions): string | undefined {
  const scaled = cells.filter((c) => c.scaling);
  if (scaled.length === 0) return undefined;
  const count = scaled[0]!.count;
  const payload = scaled[0]!.payload;
  const rows = o.scaling.map((partitions) => {
    const pub = scaled.find((c) => c.partitions === partitions && c.kind === 'publish');
    const e2e = scaled.find((c) => c.partitions === partitions && c.kind === 'e2e');
    return [
      `${partitions} partition${partitions === 1 ? '' : 's'}`,
      formatCount(rate(pub)),
      formatMicros(pub?.sample?.p99Us),
      formatMicros(pub?.serverCpuUsPerMsg),
      formatCount(rate(e2e)),
      formatMicros(e2e?.serverCpuUsPerMsg),
      [pub, e2e].some((c) => c && !c.sample) ? ([pub, e2e].find((c) => c && !c.sample)?.error ?? '') : '',
    ];
  });
  return (
    `\nparley scaling: partitions on 3 members, ${payload} B, ${count} publishers (+ ${count} consumers in e2e)\n` +
    formatTable(
      ['partitions', 'publishes/s', 'pub p99 µs', 'srv cpu µs/pub', 'e2e acked/s', 'srv cpu µs/acked', 'error'],
      rows,
    )
  );
}

function targetChecks(cells: QueueCell[], o: ReportOptions): TargetCheck[] {
  const n = Math.max(...o.counts);
  const checks: TargetCheck[] = [];
  for (const payload of o.payloads) {
    const parley = find(cells, 'parley', 'publish', payload, n);
    for (const [system, label] of [
      ['jetstream-r3', 'JetStream R3'],
      ['rabbitmq', 'RabbitMQ quorum'],
    ] as const) {
      const other = find(cells, system, 'publish', payload, n);
      const r = ratio(rate(parley), rate(other));
      checks.push({
        target: `acked publishes/s, ${payload} B, ${n} publishers: parley ≥ 2× ${label}`,
        measured:
          r === undefined ? 'n/a' : `${formatRatio(r)} (${formatCount(rate(parley))} / ${formatCount(rate(other))})`,
        met: r === undefined ? undefined : r >= 2,
      });
    }
    const js = find(cells, 'jetstream-r3', 'publish', payload, n);
    const p99 = ratio(parley?.sample?.p99Us, js?.sample?.p99Us);
    checks.push({
      target: `publish p99, ${payload} B, ${n} publishers: parley ≤ JetStream R3`,
      measured:
        p99 === undefined
          ? 'n/a'
          : `${formatRatio(p99)} (${formatMicros(parley?.sample?.p99Us)} µs / ${formatMicros(js?.sample?.p99Us)} µs)`,
      met: p99 === undefined ? undefined : p99 <= 1,
    });
  }
  return checks;
}

export function reportQueueBench(
  cells: QueueCell[],
  o: ReportOptions,
  notes: string[],
  print: (text: string) => void,
): void {
  print('');
  for (const note of new Set(notes)) print(`NOTE ${note}`);
  for (const payload of o.payloads) {
    print(mainTable(cells, o, 'publish', payload));
    print(mainTable(cells, o, 'e2e', payload));
  }
  const scaling = scalingTable(cells, o);
  if (scaling !== undefined) print(scaling);
  print('');
  print(formatTargets(targetChecks(cells, o)));
}
