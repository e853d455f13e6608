/**
 * Summarises V8 CPU profiles (node --cpu-prof) by self time per function, so a hot path can be read at a glance.
 * Two tables per profile: the top functions overall, and the top functions whose code lives in Parley (dist/src).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from './table.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  location: string;
  selfMs: number;
  /** Share of the busy (non-idle) time of the process. */
  percent: number;
}

/**
 * Self time per function (summed over all nodes with the same name and location), highest first, excluding the
 * '(idle)' pseudo-function (time spent waiting in the event loop).
 */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, { name: string; location: string; us: number }>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]!);
    const delta = profile.timeDeltas[i + 1] ?? 0; // a sample's duration is the gap to the next sample
    if (!node || node.callFrame.functionName === '(idle)') continue;
    totalUs += delta;
    const frame = node.callFrame;
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/');
    const location = file ? `${file}:${frame.lineNumber + 1}` : '(native)';
    const name = frame.functionName || '(anonymous)';
    const key = `${name}@${location}`;
    const entry = selfUs.get(key) ?? { name, location, us: 0 };
    entry.us += delta;
    selfUs.set(key, entry);
  }
  return [...selfUs.values()]
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, percent: (e.us / totalUs) * 100 }))
    .sort((a, b) => b.selfMs - a.selfMs);
}

function table(rows: SelfTime[]): string {
  return formatTable(
    ['function', 'self ms', '% of busy', 'location'],
    rows.map((r) => [r.name, r.selfMs.toFixed(0), r.percent.toFixed(1), r.location]),
  );
}

export function printCpuProfileSummary(dir: string, system: string, top = 15): void {
  const files = readdirSync(dir).filter((f) => f.startsWith(`${system}-`) && f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    console.log(`\nno CPU profiles for ${system} in ${dir}`);
    return;
  }
  for (const file of files.sort()) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const times = selfTimes(profile);
    const busyMs = times.reduce((sum, t) => sum + t.selfMs, 0);
    const parley = times.filter((t) => t.location.startsWith('dist/src/'));
    const parleyMs = parley.reduce((sum, t) => sum + t.selfMs, 0);
    console.log(
      `\nCPU profile ${join(dir, file)}: busy ${busyMs.toFixed(0)} ms over the process lifetime, ` +
        `${((parleyMs / busyMs) * 100).toFixed(1)} % of it in Parley code (dist/src). Top self time, all code:`,
    );
    console.log(table(times.slice(0, top)));
    console.log(`\n${file}: top self time in Parley code (dist/src)`);
    console.log(table(parley.slice(0, top)));
  }
}
