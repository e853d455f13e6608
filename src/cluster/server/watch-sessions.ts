import { randomBytes, timingSafeEqual } from 'node:crypto';
import { systemTimer, type Timer } from '../../base/clock.js';
import type { WatchHub, WatchPoll, WatchRequest } from '../../kv/watch-hub.js';
import { ParleyError } from '../../wire/parley-error.js';

/** Default of `maxWatchesPerCaller` (ServerOptions): watches one caller may hold on one member. */
export const DEFAULT_MAX_WATCHES_PER_CALLER = 1000;

/** Bytes of the secret part of a watch token (128 bits: not guessable). */
const SECRET_BYTES = 16;

interface Session {
  /** The node that created the watch: the only one that may poll or cancel it. */
  readonly owner: string;
  readonly secret: Buffer;
  lastPolled: number;
}

/**
 * Watchers of one member served by long polling. A session belongs to the caller that created
 * it: its token is `<incarnation>.<hub id>.<secret>`, the secret 128 random bits from crypto,
 * and polls and cancels must come from the same node id. A token from before a restart (other
 * incarnation), a wrong secret or an unknown id is NOT_FOUND; a right token from another node is
 * PERMISSION_DENIED. Either way the caller takes nothing. A watcher nobody polled for `idleMs`
 * is dropped (its client is gone or moved to another member).
 *
 * A caller holds at most `maxPerCaller` watchers at a time; one more is RESOURCE_EXHAUSTED (a
 * client that leaks watches, or one that opens them to exhaust the member, stops there).
 *
 * Invariant: perOwner.get(o) = sessions owned by o (entries at 0 deleted). Poll answers come from WatchHub.poll, so each event is handed out once by this
 * member, and only to the session's owner; exactness across members is the client's job (it
 * resumes from revision + 1).
 */
export class WatchSessions {
  private readonly incarnation = randomBytes(4).toString('hex');
  private readonly sessions = new Map<number, Session>();
  private readonly perOwner = new Map<string, number>();
  private readonly wakers = new Map<number, Set<() => void>>();
  private cancelGc: () => void = () => {};
  private closed = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly idleMs = 30_000,
    private readonly timer: Timer = systemTimer,
    private readonly maxPerCaller = DEFAULT_MAX_WATCHES_PER_CALLER,
  ) {
    hub.setListener((id) => {
      const set = this.wakers.get(id);
      if (set === undefined) return;
      this.wakers.delete(id);
      for (const wake of set) wake();
    });
    this.scheduleGc();
  }

  /** Starts a watcher owned by `owner` (the calling node id); returns its token. */
  create(req: WatchRequest, owner: string): string {
    const held = this.perOwner.get(owner) ?? 0;
    if (held >= this.maxPerCaller) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `'${owner}' already holds ${held} watches on this member, the most one caller may (maxWatchesPerCaller); cancel watches it no longer needs`,
        { details: { reason: 'max-watches-per-caller', limit: this.maxPerCaller } },
      );
    }
    const id = this.hub.watch(req);
    this.perOwner.set(owner, held + 1);
    const secret = randomBytes(SECRET_BYTES);
    this.sessions.set(id, { owner, secret, lastPolled: this.timer.now() });
    return `${this.incarnation}.${id}.${secret.toString('hex')}`;
  }

  /** Cancels the caller's watcher; false when the token names none of the caller's watchers. */
  cancel(token: unknown, caller: string): boolean {
    const id = this.find(token, caller, false);
    if (id === null) return false;
    this.forget(id);
    return this.hub.cancel(id);
  }

  /** Returns at once when there are events (or the watcher was cancelled), else waits up to `waitMs` for some. */
  async poll(token: unknown, caller: string, waitMs: number, signal?: AbortSignal): Promise<WatchPoll> {
    const id = this.find(token, caller, true)!;
    this.touch(id);
    const first = this.hub.poll(id);
    if (first.events.length > 0 || first.canceled !== undefined || waitMs <= 0) return this.settle(id, first);
    await new Promise<void>((resolve) => {
      let set = this.wakers.get(id);
      if (set === undefined) this.wakers.set(id, (set = new Set()));
      const done = () => {
        cancelTimer();
        set.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const cancelTimer = this.timer.setTimeout(done, waitMs);
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
    this.touch(id);
    const second = this.hub.poll(id);
    return this.settle(id, { events: second.events, revision: second.revision, canceled: second.canceled });
  }

  close(): void {
    this.closed = true;
    this.cancelGc();
    for (const set of this.wakers.values()) for (const wake of set) wake();
    this.wakers.clear();
    for (const id of this.sessions.keys()) this.hub.cancel(id);
    this.sessions.clear();
    this.perOwner.clear();
    this.hub.setListener(undefined);
  }

  private touch(id: number): void {
    const s = this.sessions.get(id);
    if (s !== undefined) s.lastPolled = this.timer.now();
  }

  private settle(id: number, p: WatchPoll): WatchPoll {
    if (p.canceled !== undefined) this.forget(id);
    return p;
  }

  private forget(id: number): void {
    const s = this.sessions.get(id);
    if (s !== undefined) {
      const n = (this.perOwner.get(s.owner) ?? 1) - 1;
      if (n <= 0) this.perOwner.delete(s.owner);
      else this.perOwner.set(s.owner, n);
    }
    this.sessions.delete(id);
    this.wakers.delete(id);
  }

  /** The hub id of the caller's session named by `token`; null (or a throw, when `mustExist`) otherwise. */
  private find(token: unknown, caller: string, mustExist: boolean): number | null {
    const notFound = () => {
      if (!mustExist) return null;
      throw new ParleyError('NOT_FOUND', `watch '${String(token)}' is not known on this member; watch again`, {
        details: { reason: 'watch-not-found' },
      });
    };
    if (typeof token !== 'string') return notFound();
    const [incarnation, idText, secretText, ...rest] = token.split('.');
    if (incarnation !== this.incarnation || rest.length > 0 || secretText === undefined) return notFound();
    const id = Number(idText);
    const session = Number.isSafeInteger(id) ? this.sessions.get(id) : undefined;
    if (session === undefined || !/^[0-9a-f]+$/.test(secretText)) return notFound();
    const secret = Buffer.from(secretText, 'hex');
    if (secret.length !== session.secret.length || !timingSafeEqual(secret, session.secret)) return notFound();
    if (session.owner !== caller) {
      if (!mustExist) return null;
      throw new ParleyError('PERMISSION_DENIED', 'this watch belongs to another client; watch again', {
        details: { reason: 'watch-not-owned' },
      });
    }
    return id;
  }

  private scheduleGc(): void {
    if (this.closed) return;
    this.cancelGc = this.timer.setTimeout(
      () => {
        this.collect();
        this.scheduleGc();
      },
      Math.max(100, Math.floor(this.idleMs / 3)),
    );
  }

  private collect(): void {
    const cutoff = this.timer.now() - this.idleMs;
    for (const [id, s] of this.sessions) {
      if (s.lastPolled >= cutoff || this.wakers.has(id)) continue;
      this.forget(id);
      this.hub.cancel(id);
    }
  }
}
