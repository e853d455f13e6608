import type { NodeId } from '../../raft/types.js';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * Where a hosted Raft group lives (docs/QUEUES.md, Placement): its voters and the member that
 * should lead it. Records are JSON values in the KV store under `PLACEMENT_PREFIX + groupId`;
 * every `parley server` member hosts the groups whose voters name it (group-host.ts).
 *
 * Invariants of a valid placement (`parsePlacement`): the group id is 1–128 characters of
 * `[A-Za-z0-9_.:-]` starting with a letter or digit, the voters are 1–7 distinct non-empty
 * member ids, and the preferred leader is one of them. A record's voters are fixed when it is
 * created: members bootstrap a group only with the voters its record had at creation
 * (group-host.ts), so no two members ever bootstrap one group with different voters.
 *
 * `placeGroups` is pure: group k of a call (counting from `offset`) is led by the
 * ((offset + k) mod n)-th member in sorted order, and its voters are that member and the next
 * `replicas − 1` in the ring. Calls that continue where the previous left off (`offset` = groups
 * placed so far) therefore spread leaders evenly (counts differ by at most one) over any number
 * of streams, and voters by at most `replicas` (exactly even when the groups fill whole rounds).
 */

export interface Placement {
  readonly groupId: string;
  readonly voters: readonly NodeId[];
  readonly preferredLeader: NodeId;
}

export const PLACEMENT_PREFIX = '$queue/placement/';

const GROUP_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const MAX_VOTERS = 7;
const MAX_MEMBER_ID_LENGTH = 256;

export function placementKey(groupId: string, prefix = PLACEMENT_PREFIX): string {
  return prefix + groupId;
}

export function encodePlacement(p: Placement): string {
  return JSON.stringify({ groupId: p.groupId, voters: p.voters, preferredLeader: p.preferredLeader });
}

/** Throws INVALID_ARGUMENT saying what is wrong unless `value` is a valid placement. */
export function checkPlacement(value: unknown): Placement {
  const bad = (why: string) => new ParleyError('INVALID_ARGUMENT', `placement: ${why}`);
  if (typeof value !== 'object' || value === null) throw bad('expected an object');
  const v = value as Record<string, unknown>;
  if (typeof v.groupId !== 'string' || !GROUP_ID.test(v.groupId)) {
    throw bad('groupId must be 1–128 characters of A–Z a–z 0–9 _ . : -, starting with a letter or digit');
  }
  const voters = v.voters;
  if (!Array.isArray(voters) || voters.length === 0 || voters.length > MAX_VOTERS) {
    throw bad(`voters must list 1–${MAX_VOTERS} member ids`);
  }
  for (const id of voters) {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MEMBER_ID_LENGTH) {
      throw bad('each voter must be a member id');
    }
  }
  if (new Set(voters).size !== voters.length) throw bad('voters must be distinct');
  if (typeof v.preferredLeader !== 'string' || !voters.includes(v.preferredLeader)) {
    throw bad('preferredLeader must be one of the voters');
  }
  return { groupId: v.groupId, voters: [...(voters as string[])], preferredLeader: v.preferredLeader };
}

/** Parses a record's value (JSON); throws INVALID_ARGUMENT when it is not a valid placement. */
export function parsePlacement(value: string): Placement {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new ParleyError('INVALID_ARGUMENT', 'placement: not JSON');
  }
  return checkPlacement(json);
}

/**
 * Places `groups` (in order) on `members`: voters (min(replicas, members) of them) and a
 * preferred leader each, round robin over the sorted members starting at `offset`. Pure and
 * deterministic: the same arguments give the same placements on every member.
 */
export function placeGroups(
  members: readonly NodeId[],
  groups: readonly string[],
  replicas: number,
  offset = 0,
): Placement[] {
  const ring = [...new Set(members)].sort();
  if (ring.length === 0) throw new ParleyError('FAILED_PRECONDITION', 'no members to place groups on');
  if (!Number.isSafeInteger(replicas) || replicas < 1) {
    throw new ParleyError('INVALID_ARGUMENT', `replicas must be a positive integer, got ${replicas}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new ParleyError('INVALID_ARGUMENT', `offset must be a non-negative integer, got ${offset}`);
  }
  const n = ring.length;
  const size = Math.min(replicas, n);
  return groups.map((groupId, k) => {
    const start = (offset + k) % n;
    const voters = Array.from({ length: size }, (_, j) => ring[(start + j) % n]!);
    return { groupId, voters, preferredLeader: ring[start]! };
  });
}
