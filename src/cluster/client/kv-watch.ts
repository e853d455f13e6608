import { sleep } from '../../base/abort.js';
import type { Timer } from '../../base/clock.js';
import type { KeyRangeSpec, KvEvent } from '../../kv/types.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { Bytes, KvParams, KvReply } from '../contract.js';

export interface WatchOptions {
  /** First revision to deliver; absent: from the revision after the current one (read when the watch starts). */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
}

/** What a watch needs from the client: one call to a chosen member, and the current revision. */
export interface WatchHost {
  /** Calls a watch action on some member (the leader if known); throws on failure. */
  callMember<A extends '$kv.watch' | '$kv.watchPoll' | '$kv.watchCancel'>(
    action: A,
    params: KvParams<A>,
    timeoutMs: number,
  ): Promise<KvReply<A>>;
  currentRevision(): Promise<number>;
  readonly closed: boolean;
  /** The client's timers (waits between attempts). */
  readonly timer: Timer;
}

type Listener = (events: KvEvent[], revision: number) => void;

const POLL_WAIT_MS = 1000;
const POLL_TIMEOUT_MS = 6000;

/**
 * A watch that survives member failures. It remembers `next`: every revision below it has been
 * delivered. After any failure it watches again, on whichever member answers, from `next`.
 * Revisions are global (the log is), so the new member's replay starts exactly where the last
 * delivery ended: no gap; events below `next` are skipped, so no duplicate either.
 *
 * Invariant: events are handed to listeners in (revision, sub) order, and `next` only grows.
 */
export class KvWatch implements AsyncIterable<KvEvent> {
  private next = 0;
  private watchId: string | null = null;
  private readonly listeners = new Set<Listener>();
  private buffered: KvEvent[] = [];
  /** Events are buffered only once someone iterates; listeners alone keep no backlog. */
  private iterating = false;
  private wakeIterator: (() => void) | null = null;
  private done = false;
  private closeReason: ParleyError | null = null;
  private resolveClosed!: (err: ParleyError | null) => void;
  /** Resolves with null after cancel(), or with the error that ended the watch (e.g. OUT_OF_RANGE: compacted). */
  readonly closed: Promise<ParleyError | null>;
  /** Resolves once the watch is established (its start revision is fixed). */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;

  constructor(
    private readonly host: WatchHost,
    private readonly range: KeyRangeSpec<Bytes>,
    private readonly options: WatchOptions = {},
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
    void this.run();
  }

  /** Every revision below this one has been delivered. */
  get revision(): number {
    return this.next - 1;
  }

  on(fn: Listener): this {
    this.listeners.add(fn);
    return this;
  }

  cancel(): void {
    this.finish(null);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KvEvent> {
    this.iterating = true;
    while (true) {
      if (this.buffered.length > 0) {
        const batch = this.buffered;
        this.buffered = [];
        yield* batch;
        continue;
      }
      if (this.done) {
        if (this.closeReason !== null) throw this.closeReason;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wakeIterator = resolve;
      });
    }
  }

  private finish(err: ParleyError | null): void {
    if (this.done) return;
    this.done = true;
    this.closeReason = err;
    this.resolveClosed(err);
    this.resolveReady();
    this.wakeIterator?.();
    const id = this.watchId;
    this.watchId = null;
    if (id !== null) this.host.callMember('$kv.watchCancel', { watchId: id }, 2000).catch(() => {});
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.done && !this.host.closed) {
      try {
        if (this.next === 0) {
          this.next = this.options.startRevision ?? (await this.host.currentRevision()) + 1;
        }
        if (this.watchId === null) {
          const r = await this.host.callMember(
            '$kv.watch',
            { ...this.options, range: this.range, startRevision: this.next },
            POLL_TIMEOUT_MS,
          );
          this.watchId = r.watchId;
          this.resolveReady();
        }
        const p = await this.host.callMember(
          '$kv.watchPoll',
          { watchId: this.watchId, waitMs: POLL_WAIT_MS },
          POLL_TIMEOUT_MS,
        );
        failures = 0;
        this.deliver(p.events, p.revision);
      } catch (err) {
        const e = ParleyError.from(err);
        // KV roles or the policy: the caller may not (or no longer) watch this range: watching again cannot help.
        const refused = e.code === 'UNAUTHENTICATED' || (e.code === 'PERMISSION_DENIED' && isKvPermission(e));
        if (e.code === 'OUT_OF_RANGE' || e.code === 'INVALID_ARGUMENT' || refused) {
          this.finish(e);
          return;
        }
        // The member died, the watcher is gone, or no member is reachable: watch again from `next`.
        this.watchId = null;
        failures++;
        await sleep(Math.min(1000, 50 * 2 ** Math.min(failures, 5)), undefined, this.host.timer);
      }
    }
    this.finish(null);
  }

  private deliver(events: readonly KvEvent[], revision: number): void {
    if (this.done) return;
    const fresh = events.filter((e) => e.kv.modRevision >= this.next);
    if (revision + 1 > this.next) this.next = revision + 1;
    if (fresh.length === 0) return;
    for (const fn of this.listeners) fn(fresh, this.revision);
    if (this.iterating) this.buffered.push(...fresh);
    const wake = this.wakeIterator;
    this.wakeIterator = null;
    wake?.();
  }
}

/** Refused by KV roles or by the node's authorization policy (not a watch token of another node). */
function isKvPermission(e: ParleyError): boolean {
  const reason = (e.details as { reason?: string } | undefined)?.reason;
  return reason === 'kv-permission' || reason === 'policy';
}
