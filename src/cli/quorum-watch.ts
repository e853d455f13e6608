import type { Timer } from '../base/clock.js';
import { systemTimer } from '../base/clock.js';

/** What the watcher reads from a running cluster member. */
export interface MemberView {
  readonly id: string;
  /** The leader this member knows, or null. */
  leader(): string | null;
  /** The voters of the current configuration, this member included. */
  voters(): readonly string[];
  /** Ids of the members this member is connected to (not itself). */
  connected(): readonly string[];
  /** host:port of a member, when known. */
  addressOf(id: string): string | null;
}

/**
 * Tells the person who started a `parley server` what it is waiting for. A member without a leader
 * for `quietMs` says so once, with the members it cannot reach; when a leader then appears it
 * says that too. A healthy start prints nothing. Returns a function that stops the watch.
 */
export function watchQuorum(
  member: MemberView,
  print: (line: string) => void,
  options: { quietMs?: number; pollMs?: number; timer?: Timer } = {},
): () => void {
  const { quietMs = 3000, pollMs = 250, timer = systemTimer } = options;
  let leaderlessSince: number | null = timer.now();
  let waitingSaid = false;
  let lastLeader: string | null = null;
  let cancel = timer.setTimeout(tick, pollMs);
  function tick(): void {
    const leader = member.leader();
    const now = timer.now();
    if (leader !== null) {
      if (waitingSaid || (lastLeader !== null && lastLeader !== leader)) {
        print(`parley server ${member.id}: the cluster has a leader: ${leader}`);
      }
      waitingSaid = false;
      leaderlessSince = null;
      lastLeader = leader;
    } else {
      leaderlessSince ??= now;
      if (!waitingSaid && now - leaderlessSince >= quietMs) {
        waitingSaid = true;
        print(waitingLine(member));
      }
    }
    cancel = timer.setTimeout(tick, pollMs);
  }
  return () => cancel();
}

function waitingLine(member: MemberView): string {
  const voters = member.voters();
  const connected = new Set(member.connected());
  const missing = voters.filter((v) => v !== member.id && !connected.has(v));
  const quorum = Math.floor(voters.length / 2) + 1;
  const reachable = voters.length - missing.length;
  const head = `parley server ${member.id}: no leader yet, waiting for a quorum (${quorum} of ${voters.length} members)`;
  if (voters.length === 0) return `${head}: this member has not learnt the configuration yet (joining?)`;
  if (missing.length === 0) return `${head}: all members are connected, an election is under way`;
  const list = missing.map((id) => `${id} at ${member.addressOf(id) ?? 'an unknown address'}`).join(', ');
  return `${head}: ${reachable} reachable; start or check ${list}`;
}
