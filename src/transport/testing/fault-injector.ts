import { type CancelTimer, systemTimer, type Timer } from '../../base/clock.js';
import type { Random } from '../../base/random.js';
import type { Frame } from '../../wire/frame.js';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * One fault on the link *from* a peer *to* this node. A FaultyTransport consults its injector for
 * every frame received from that peer (HELLO included): the frame is dropped with probability
 * `drop`, otherwise delivered after `delayMs`. A two-way partition is one rule on each side.
 */
export interface FaultRule {
  /** Node id of the sending peer. */
  readonly peer: string;
  /** Probability in [0, 1] that a frame is dropped; 1 cuts the link (default 0). */
  readonly drop?: number;
  /** Milliseconds added before a frame is delivered (default 0). Frames of one peer stay in order. */
  readonly delayMs?: number;
}

interface Delayed {
  readonly at: number;
  readonly frame: Frame;
  readonly deliver: (frame: Frame) => void;
  readonly isOpen: () => boolean;
}

/** Frames waiting for their delivery time, per peer, in arrival order. Invariant: `at` never decreases along `queue`. */
interface DelayLine {
  readonly queue: Delayed[];
  cancel: CancelTimer | undefined;
}

/**
 * Test-only fault injection: drops or delays the frames received from chosen peers. It lives in a
 * FaultyTransport (faulty-transport.ts) that a test wraps around a real transport; the shipped
 * code never sees one. The nemesis drives one in real server processes through a file
 * (`PARLEY_FAULT_FILE`, src/cli/testing/fault-control.ts, test/nemesis/faulty-server.ts).
 *
 * Dropping whole frames on a TCP connection behaves like a network that loses packets until the
 * connection gives up: the mesh's idle timeout declares the silent peer dead and redials, and the
 * redial's HELLO is dropped too, so the link stays down until the rule is removed.
 */
export class FaultInjector {
  private readonly byPeer = new Map<string, FaultRule>();
  private readonly lines = new Map<string, DelayLine>();
  private readonly random: Random;
  private readonly timer: Timer;
  /** Counters for tests and for the control file's acknowledgement. */
  dropped = 0;
  delayed = 0;

  constructor(options: { random?: Random; timer?: Timer } = {}) {
    this.random = options.random ?? Math.random;
    this.timer = options.timer ?? systemTimer;
  }

  /** Replaces every rule. Throws INVALID_ARGUMENT (and keeps the old rules) when one is malformed. */
  setRules(rules: readonly FaultRule[]): void {
    const next = new Map<string, FaultRule>();
    for (const rule of rules) {
      const checked = checkRule(rule);
      if (next.has(checked.peer)) {
        throw new ParleyError('INVALID_ARGUMENT', `two fault rules for peer '${checked.peer}'; give one rule per peer`);
      }
      next.set(checked.peer, checked);
    }
    this.byPeer.clear();
    for (const [peer, rule] of next) this.byPeer.set(peer, rule);
  }

  rules(): FaultRule[] {
    return [...this.byPeer.values()];
  }

  /**
   * Decides the fate of a frame received from `peer`. Returns false when no rule applies: the
   * caller delivers the frame itself, now. Returns true when the injector took the frame: it was
   * dropped, or it will be passed to `deliver` later (a copy, since the body is only valid during
   * the call), unless `isOpen()` is false by then.
   */
  intercept(peer: string, frame: Frame, deliver: (frame: Frame) => void, isOpen: () => boolean): boolean {
    const rule = this.byPeer.get(peer);
    const line = this.lines.get(peer);
    if (rule === undefined && line === undefined) return false;
    if (rule?.drop !== undefined && rule.drop > 0 && (rule.drop >= 1 || this.random() < rule.drop)) {
      this.dropped++;
      return true;
    }
    const delayMs = rule?.delayMs ?? 0;
    if (delayMs === 0 && line === undefined) return false;
    // Behind frames that are still delayed, a frame waits its turn even when its own delay is 0.
    const copy: Frame = { ...frame, body: frame.body.slice() };
    this.enqueue(peer, { at: this.timer.now() + delayMs, frame: copy, deliver, isOpen });
    this.delayed++;
    return true;
  }

  private enqueue(peer: string, item: Delayed): void {
    let line = this.lines.get(peer);
    if (line === undefined) {
      line = { queue: [], cancel: undefined };
      this.lines.set(peer, line);
    }
    const last = line.queue[line.queue.length - 1];
    line.queue.push(last !== undefined && last.at > item.at ? { ...item, at: last.at } : item);
    if (line.cancel === undefined) this.schedule(peer, line);
  }

  private schedule(peer: string, line: DelayLine): void {
    const head = line.queue[0];
    if (head === undefined) {
      this.lines.delete(peer);
      return;
    }
    line.cancel = this.timer.setTimeout(
      () => {
        line.cancel = undefined;
        const now = this.timer.now();
        while (line.queue.length > 0 && line.queue[0]!.at <= now) {
          const item = line.queue.shift()!;
          if (item.isOpen()) item.deliver(item.frame);
        }
        this.schedule(peer, line);
      },
      Math.max(0, head.at - this.timer.now()),
    );
  }
}

function checkRule(rule: FaultRule): FaultRule {
  if (typeof rule !== 'object' || rule === null || typeof rule.peer !== 'string' || rule.peer.length === 0) {
    throw new ParleyError('INVALID_ARGUMENT', 'a fault rule needs a non-empty string "peer" (the sending node id)');
  }
  const drop = rule.drop ?? 0;
  if (typeof drop !== 'number' || !(drop >= 0 && drop <= 1)) {
    throw new ParleyError('INVALID_ARGUMENT', `fault rule for '${rule.peer}': "drop" must be a probability in [0, 1]`);
  }
  const delayMs = rule.delayMs ?? 0;
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new ParleyError('INVALID_ARGUMENT', `fault rule for '${rule.peer}': "delayMs" must be a number >= 0`);
  }
  return { peer: rule.peer, drop, delayMs };
}
