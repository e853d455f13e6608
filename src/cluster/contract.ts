/**
 * What the cluster's client and server agree on: the shapes the `$cluster` service returns.
 * Both sides import it; neither imports the other.
 */

/** One member's view of the cluster, as `$cluster.status` returns it. */
export interface MemberStatus {
  readonly id: string;
  readonly address: string | null;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly revision: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** Leader only: replication progress (match index) per member. */
  readonly progress: Record<string, { match: number; state: string }> | null;
}
