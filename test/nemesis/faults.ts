/**
 * The nemeses: each runs fault cycles against a ServerCluster until its deadline, and leaves the
 * cluster whole (every member running, resumed, healed) when it returns. Every random choice comes
 * from the run's seeded random source, so a schedule replays from its seed (the timing of the
 * processes does not).
 *
 * Timings are chosen against the server defaults (election timeout 0.5–1 s, mesh idle timeout
 * 5 s): pauses and partitions last longer than an election timeout, some partitions longer than
 * the idle timeout (so connections really drop and are redialed).
 */
import { type ClusterAdmin, delay, type Log, type ServerCluster } from './cluster.js';

export const FAULT_KINDS = ['kill', 'pause', 'partition', 'membership'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface NemesisContext {
  readonly cluster: ServerCluster;
  readonly random: () => number;
  readonly log: Log;
  /** The current leader's id, when one is known. */
  readonly leader: () => Promise<string | undefined>;
  readonly admin: ClusterAdmin;
  /** Fault cycles start only before this time (ms since the epoch). */
  readonly until: number;
}

/** Counts of what a nemesis did, for the run's summary. */
export type FaultCounts = Record<string, number>;

export async function runNemesis(kind: FaultKind, ctx: NemesisContext): Promise<FaultCounts> {
  const counts: FaultCounts = {};
  const count = (what: string) => {
    counts[what] = (counts[what] ?? 0) + 1;
  };
  const between = (lo: number, hi: number) => lo + ctx.random() * (hi - lo);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(ctx.random() * list.length)]!;
  /** The leader with probability `p` (when known), else any member. */
  const victim = async (p: number): Promise<{ id: string; wasLeader: boolean }> => {
    let leader: string | undefined;
    if (ctx.random() < p) {
      // Right after a fault the leader may not be known yet: ask a few times.
      for (let i = 0; i < 5 && leader === undefined; i++) {
        leader = await ctx.leader();
        if (leader === undefined) await delay(300);
      }
    }
    if (leader !== undefined && ctx.cluster.members.has(leader)) return { id: leader, wasLeader: true };
    return { id: pick(ctx.cluster.ids()), wasLeader: false };
  };
  let cycle = 0;
  try {
    while (Date.now() < ctx.until) {
      cycle++;
      switch (kind) {
        case 'kill': {
          const { id, wasLeader } = await victim(0.5);
          ctx.log(`   [${cycle}] kill -9 ${id}${wasLeader ? ' (leader)' : ''}`);
          await ctx.cluster.get(id).kill('SIGKILL');
          count(wasLeader ? 'kill leader' : 'kill');
          await delay(between(500, 2500));
          await ctx.cluster.get(id).start(ctx.cluster.startArgs());
          ctx.log(`   [${cycle}] restarted ${id}`);
          await delay(between(1500, 3000));
          break;
        }
        case 'pause': {
          const { id, wasLeader } = await victim(0.6);
          const ms = between(1500, 3500);
          ctx.log(`   [${cycle}] SIGSTOP ${id}${wasLeader ? ' (leader)' : ''} for ${Math.round(ms)} ms`);
          ctx.cluster.get(id).pause();
          count(wasLeader ? 'pause leader' : 'pause');
          await delay(ms);
          const during = await ctx.leader();
          if (wasLeader && during !== undefined && during !== id) count('leader replaced while paused');
          ctx.cluster.get(id).resume();
          await delay(between(1500, 3000));
          break;
        }
        case 'partition': {
          if (cycle % 3 === 0) {
            // Not a clean cut: the leader's links lose a share of frames and deliver the rest late.
            const { id, wasLeader } = await victim(1);
            const fault = { drop: Math.round(between(0.1, 0.4) * 100) / 100, delayMs: Math.round(between(50, 300)) };
            const ms = between(2000, 5000);
            ctx.log(
              `   [${cycle}] lossy links to ${id}${wasLeader ? ' (leader)' : ''}: drop ${fault.drop}, delay ${fault.delayMs} ms, for ${Math.round(ms)} ms`,
            );
            await ctx.cluster.degrade(id, fault);
            count('lossy, slow links');
            await delay(ms);
            await ctx.cluster.heal();
            await delay(between(1500, 3000));
            break;
          }
          const isolateLeader = cycle % 3 === 1;
          const { id } = isolateLeader ? await victim(1) : { id: pick(ctx.cluster.ids()) };
          const ms = between(2000, 7000);
          const others = ctx.cluster.ids().filter((x) => x !== id);
          ctx.log(
            `   [${cycle}] partition {${id}} | {${others.join(',')}}${isolateLeader ? ' (leader isolated)' : ' (1/2 split)'} for ${Math.round(ms)} ms`,
          );
          await ctx.cluster.partition([id]);
          count(isolateLeader ? 'isolate leader' : 'split 1/2');
          await delay(ms);
          const during = await ctx.leader();
          if (isolateLeader && during !== undefined && during !== id) count('leader replaced while isolated');
          ctx.log(`   [${cycle}] leader during the partition: ${during ?? 'unknown'}`);
          await ctx.cluster.heal();
          ctx.log(`   [${cycle}] healed`);
          await delay(between(1500, 3000));
          break;
        }
        case 'membership': {
          const added = await ctx.cluster.addMember(ctx.admin);
          ctx.log(`   [${cycle}] added ${added} (now ${ctx.cluster.ids().join(',')})`);
          count('add');
          await delay(between(1500, 3000));
          // Keep at least two of the initial members: the clients were given their addresses.
          const initial = ctx.cluster
            .ids()
            .filter((x) => ctx.cluster.initialAddresses.includes(ctx.cluster.get(x).address));
          const removable = ctx.cluster.ids().filter((x) => initial.length > 2 || !initial.includes(x));
          const leader = await ctx.leader();
          const removed =
            leader !== undefined && removable.includes(leader) && ctx.random() < 0.3 ? leader : pick(removable);
          ctx.log(`   [${cycle}] removing ${removed}${removed === leader ? ' (leader)' : ''}`);
          await ctx.cluster.removeMember(ctx.admin, removed);
          count(removed === leader ? 'remove leader' : 'remove');
          await delay(between(1500, 3000));
          break;
        }
      }
    }
  } finally {
    await ctx.cluster.restoreAll();
  }
  return counts;
}
