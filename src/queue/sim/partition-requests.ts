import type { Prng } from '../../base/random.js';
import type { SimCluster } from '../../raft/sim/sim-cluster.js';
import type { NodeId } from '../../raft/types.js';
import { commandToPropose } from '../command-codec.js';
import type { PartitionCommand, PartitionOutcome } from '../types.js';

/** What a client learns of one command it sent. */
export type RequestOutcome =
  /** Applied at `index`; the proposing member's state machine answered `outcome`. */
  | { readonly kind: 'applied'; readonly index: number; readonly outcome: PartitionOutcome }
  /** The member refused it at once: it is in no log. */
  | { readonly kind: 'refused'; readonly reason: string }
  /** No answer in time, or the member crashed: it may or may not be applied. */
  | { readonly kind: 'unknown'; readonly reason: string };

interface InFlight {
  readonly ticket: number;
  readonly deadline: number;
  readonly done: (o: RequestOutcome) => void;
}

/**
 * How the simulated clients reach a partition: a command goes to the member the client believes
 * leads (sometimes a random live member, as a client with stale knowledge does, which forwards
 * it), stamped with that member's clock as `now` (simulated time × msPerStep plus the member's
 * fixed skew, so a new leader's clock may be behind its predecessor's). The outcome comes back
 * when the proposing member applies it; a command unanswered after `timeoutSteps` is reported
 * unknown and its late answer ignored, as a client's deadline does.
 *
 * Commands are validated and encoded as a member does before proposing (command-codec.ts).
 */
export class PartitionRequests {
  private readonly inFlight = new Set<InFlight>();
  private readonly skewMs = new Map<NodeId, number>();
  stats = { sent: 0, refused: 0, unknown: 0, applied: 0 };

  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: Prng,
    readonly msPerStep: number,
    private readonly maxSkewMs: number,
    private readonly timeoutSteps: number,
  ) {}

  /** The clock of `member` now (ms). */
  clock(member: NodeId): number {
    let skew = this.skewMs.get(member);
    if (skew === undefined) {
      skew = this.maxSkewMs === 0 ? 0 : this.rng.int(this.maxSkewMs + 1);
      this.skewMs.set(member, skew);
    }
    return this.cluster.now * this.msPerStep + skew;
  }

  /** The member a client sends to now, or null when every member is down. */
  target(preferLeader: number): NodeId | null {
    const lead = this.cluster.leader();
    if (lead !== null && this.rng.chance(preferLeader)) return lead.id;
    const live = this.cluster.live();
    return live.length === 0 ? null : this.rng.pick(live).id;
  }

  /** Sends a command built for the proposing member's clock; `done` is called exactly once. */
  send(build: (now: number) => PartitionCommand, done: (o: RequestOutcome) => void, at?: NodeId): void {
    this.stats.sent++;
    const member = at ?? this.target(0.8);
    if (member === null) {
      this.stats.refused++;
      done({ kind: 'refused', reason: 'no member is up' });
      return;
    }
    const cmd = build(this.clock(member));
    let settled = false;
    const entry: { ticket: number; deadline: number; done: (o: RequestOutcome) => void } = {
      ticket: 0,
      deadline: this.cluster.now + this.timeoutSteps,
      done: (o) => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(entry);
        this.stats[o.kind]++;
        done(o);
      },
    };
    const ticket = this.cluster.proposeTracked(member, commandToPropose(cmd), (o) =>
      entry.done(
        o.kind === 'applied'
          ? { kind: 'applied', index: o.index, outcome: o.result as PartitionOutcome }
          : { kind: 'unknown', reason: o.reason },
      ),
    );
    if (ticket === null) {
      entry.done({ kind: 'refused', reason: `${member} dropped the proposal` });
      return;
    }
    entry.ticket = ticket;
    this.inFlight.add(entry);
  }

  /** Times out the commands past their deadline. Call once per step. */
  step(): void {
    for (const r of this.inFlight) {
      if (r.deadline > this.cluster.now) continue;
      this.cluster.forgetProposal(r.ticket);
      r.done({ kind: 'unknown', reason: `no answer within ${this.timeoutSteps} steps` });
    }
  }

  get pending(): number {
    return this.inFlight.size;
  }
}
