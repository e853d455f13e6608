/**
 * Where a KV put's CPU goes, by stage, from the members' V8 CPU profiles (node --cpu-prof).
 *
 * Each sample is charged to one stage: fdatasync and GC by the sampled frame; then the first
 * "whole-stack" stage with a frame anywhere in the stack (kv propose, kv apply, WAL save, socket
 * writes, snapshot: each includes what it calls, msgpack and GC excepted); otherwise the
 * innermost frame that matches one of STAGES. fdatasync is wall time spent
 * blocked on the disk, not CPU: it is reported apart, and the other stages share the measured
 * CPU time per put (from /proc, the `srv cpu µs/op` column) in proportion to their samples.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from './table.js';

interface Frame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

type Match = (f: Frame) => boolean;
const fn =
  (name: string, file?: string): Match =>
  (f) =>
    f.functionName === name && (!file || f.url.includes(file));
const file =
  (part: string): Match =>
  (f) =>
    f.url.includes(part);

/** Leaf stages: the sampled frame itself. */
const LEAF: [string, Match][] = [
  ['fdatasync (disk wait)', (f) => f.functionName === 'fdatasync' || f.functionName === 'fdatasyncSync'],
  ['GC', fn('(garbage collector)')],
];
/** Whole-stack stages, by priority: any frame of the stack (so a stage includes what it calls). */
const WHOLE: [string, Match][] = [
  ['process start (module loading)', (f) => f.url.includes('esm/') || f.url.includes('bootstrap/')],
  [
    'snapshot (sliced encode + file)',
    (f) => f.functionName === 'maybeSnapshot' || (f.functionName === 'work' && f.url.includes('raft/driver')),
  ],
  ['kv: validate + encode (proposing member)', fn('commandToPropose')],
  ['kv: decode + apply', fn('applyEntry', 'kv/kv-state-machine')],
  ['socket writes (send syscalls)', fn('flush', 'transport/socket-connection')],
  ['WAL encode + write', fn('save', 'raft/wal/')],
];
/** Everything else: the innermost frame that matches one of these. */
const STAGES: [string, Match][] = [
  ['raft driver (apply loop, envelopes)', file('raft/driver')],
  ['raft core', file('raft/core/')],
  ['$kv / $raft services, member', file('cluster/server/')],
  ['rpc runtime (node/)', file('/node/')],
  ['msgpack + frames (wire/)', (f) => f.url.includes('/wire/') || f.url.includes('msgpackr')],
  ['transport (reads, mesh)', file('/transport/')],
];
const OTHER = 'Node internals (streams, timers, …)';

/** Busy time per stage (ms) of one profile. */
function stagesOf(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string | null>();
  const stageOf = (id: number): string | null => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const frames: Frame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at)!.callFrame);
    let stage: string | null = OTHER;
    if (frames[0]!.functionName === '(idle)') stage = null;
    else if (frames[0]!.functionName === '(program)') stage = OTHER;
    else {
      const leaf = LEAF.find(([, m]) => m(frames[0]!));
      const whole = leaf ?? WHOLE.find(([, m]) => frames.some(m));
      if (whole) stage = whole[0];
      else
        outer: for (const f of frames) {
          for (const [name, m] of STAGES) {
            if (m(f)) {
              stage = name;
              break outer;
            }
          }
        }
    }
    memo.set(id, stage);
    return stage;
  };
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const stage = stageOf(profile.samples[i]!);
    if (stage === null) continue;
    out.set(stage, (out.get(stage) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return out;
}

/** Prints the stage table for the `system-*.cpuprofile` files in `dir`, scaled to `cpuUsPerPut` (all members). */
export function printPutStages(dir: string, system: string, cpuUsPerPut: number | undefined): void {
  const files = readdirSync(dir).filter((f) => f.startsWith(`${system}-`) && f.endsWith('.cpuprofile'));
  if (files.length === 0) return;
  const total = new Map<string, number>();
  for (const f of files) {
    for (const [stage, ms] of stagesOf(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile)) {
      total.set(stage, (total.get(stage) ?? 0) + ms);
    }
  }
  const disk = 'fdatasync (disk wait)';
  const start = 'process start (module loading)';
  let cpuMs = 0;
  for (const [stage, ms] of total) if (stage !== disk && stage !== start) cpuMs += ms;
  const rows = [...total]
    .filter(([stage]) => stage !== start)
    .sort((a, b) => b[1] - a[1])
    .map(([stage, ms]) => {
      const share = stage === disk ? undefined : ms / cpuMs;
      return [
        stage,
        ms.toFixed(0),
        share === undefined ? '(wait)' : `${(share * 100).toFixed(1)} %`,
        share === undefined || cpuUsPerPut === undefined ? '' : (share * cpuUsPerPut).toFixed(1),
      ];
    });
  console.log(
    `\nPer-stage CPU of a put, all ${files.length} members (${dir}; samples charged innermost-first, see bench/harness/put-stages.ts)`,
  );
  console.log(formatTable(['stage', 'busy ms', 'share of CPU', 'µs per put'], rows));
}
