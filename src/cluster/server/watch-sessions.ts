import { randomBytes } from 'node:crypto';
import type { WatchHub, WatchPoll, WatchRequest } from '../../kv/watch-hub.js';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * Watchers of one member served by long polling. A session token is `<incarnation>.<hub id>`,
 * so a token from before a restart never reaches another client's watcher. A watcher nobody
 * polled for `idleMs` is dropped (its client is gone or moved to another member).
 *
 * Invariant: poll answers come from WatchHub.poll, so each event is handed out once by this
 * member; exactness across members is the client's job (it resumes from revision + 1).
 */
export class WatchSessions {
  private readonly incarnation = randomBytes(4).toString('hex');
  private readonly lastPolled = new Map<number, number>();
  private readonly wakers = new Map<number, Set<() => void>>();
  private readonly gcTimer: NodeJS.Timeout;

  constructor(
    private readonly hub: WatchHub,
    private readonly idleMs = 30_000,
  ) {
    hub.setListener((id) => {
      const set = this.wakers.get(id);
      if (set === undefined) return;
      this.wakers.delete(id);
      for (const wake of set) wake();
    });
    this.gcTimer = setInterval(() => this.collect(), Math.max(100, Math.floor(idleMs / 3)));
    this.gcTimer.unref();
  }

  create(req: WatchRequest): string {
    const id = this.hub.watch(req);
    this.lastPolled.set(id, Date.now());
    return `${this.incarnation}.${id}`;
  }

  cancel(token: string): boolean {
    const id = this.parse(token, false);
    if (id === null) return false;
    this.forget(id);
    return this.hub.cancel(id);
  }

  /** Returns at once when there are events (or the watcher was cancelled), else waits up to `waitMs` for some. */
  async poll(token: string, waitMs: number, signal?: AbortSignal): Promise<WatchPoll> {
    const id = this.parse(token, true)!;
    this.lastPolled.set(id, Date.now());
    const first = this.hub.poll(id);
    if (first.events.length > 0 || first.canceled !== undefined || waitMs <= 0) return this.settle(id, first);
    await new Promise<void>((resolve) => {
      let set = this.wakers.get(id);
      if (set === undefined) this.wakers.set(id, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
    this.lastPolled.set(id, Date.now());
    const second = this.hub.poll(id);
    return this.settle(id, { events: second.events, revision: second.revision, canceled: second.canceled });
  }

  close(): void {
    clearInterval(this.gcTimer);
    for (const set of this.wakers.values()) for (const wake of set) wake();
    this.wakers.clear();
    for (const id of this.lastPolled.keys()) this.hub.cancel(id);
    this.lastPolled.clear();
    this.hub.setListener(undefined);
  }

  private settle(id: number, p: WatchPoll): WatchPoll {
    if (p.canceled !== undefined) this.forget(id);
    return p;
  }

  private forget(id: number): void {
    this.lastPolled.delete(id);
    this.wakers.delete(id);
  }

  private parse(token: unknown, mustExist: boolean): number | null {
    const fail = () => {
      if (!mustExist) return null;
      throw new ParleyError('NOT_FOUND', `watch '${String(token)}' is not known on this member; watch again`, {
        details: { reason: 'watch-not-found' },
      });
    };
    if (typeof token !== 'string') return fail();
    const dot = token.indexOf('.');
    if (dot < 0 || token.slice(0, dot) !== this.incarnation) return fail();
    const id = Number(token.slice(dot + 1));
    if (!Number.isSafeInteger(id) || !this.lastPolled.has(id)) return fail();
    return id;
  }

  private collect(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [id, at] of this.lastPolled) {
      if (at >= cutoff || this.wakers.has(id)) continue;
      this.forget(id);
      this.hub.cancel(id);
    }
  }
}
