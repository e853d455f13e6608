/**
 * Checks what a watch on every key delivered through a nemesis run: pure, no I/O.
 *
 * A watch of the whole key space from revision `startRevision` must deliver every revision from
 * there on, because a revision only moves when a write changes some key, and every such change is
 * an event. So, with the store's final state in hand (read after the watch caught up):
 * - **order**: event revisions never decrease; one revision never names a key twice (duplicate);
 * - **no gap**: each new revision is the previous one + 1, from `startRevision` up to the final
 *   revision;
 * - **no duplicate**: every written value is unique, so a PUT of a value seen before is a
 *   duplicate (or a replayed write);
 * - **agreement**: replaying the events over the initial state gives the final state (values and
 *   modRevisions), and every write a client saw succeed appears at the revision it was told.
 */
import { type KvInput, type KvOutput, type Operation, UNKNOWN } from '../support/linearizability/index.js';
import type { KeyState, WatchedEvent } from './target.js';

export interface WatchCheckInput {
  readonly startRevision: number;
  /** Every event in delivery order. */
  readonly events: readonly WatchedEvent[];
  /** The state just before `startRevision` (empty for 1). */
  readonly initial: ReadonlyMap<string, KeyState>;
  readonly final: { readonly kvs: ReadonlyMap<string, KeyState>; readonly revision: number };
  /** The clients' history, to cross-check the writes they saw succeed. */
  readonly history: readonly Operation<KvInput, KvOutput>[];
}

export interface WatchCheckResult {
  readonly ok: boolean;
  /** At most 20 problems, each one line. */
  readonly problems: readonly string[];
  readonly events: number;
  readonly revisions: number;
}

const MAX_PROBLEMS = 20;

export function checkWatch(input: WatchCheckInput): WatchCheckResult {
  const problems: string[] = [];
  const report = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const state = new Map(input.initial);
  const byRevision = new Map<number, WatchedEvent[]>();
  const putValues = new Set<string>();
  let last = input.startRevision - 1;
  let keysThisRevision = new Set<string>();
  for (const [i, ev] of input.events.entries()) {
    const rev = ev.modRevision;
    if (rev < last) report(`event ${i} (${describe(ev)}) goes back from revision ${last}: out of order`);
    else if (rev > last + 1) {
      report(`gap: revisions ${last + 1}..${rev - 1} were never delivered (next event ${describe(ev)})`);
    }
    if (rev !== last) keysThisRevision = new Set();
    if (keysThisRevision.has(ev.key)) report(`duplicate: key ${ev.key} twice at revision ${rev}`);
    keysThisRevision.add(ev.key);
    if (ev.type === 'PUT') {
      if (putValues.has(ev.value)) report(`duplicate: ${describe(ev)} delivers a value already delivered`);
      putValues.add(ev.value);
      state.set(ev.key, { value: ev.value, modRevision: rev });
    } else state.delete(ev.key);
    let list = byRevision.get(rev);
    if (list === undefined) byRevision.set(rev, (list = []));
    list.push(ev);
    last = Math.max(last, rev);
  }
  if (last < input.final.revision) {
    report(`the watch stopped at revision ${last}; the store is at ${input.final.revision}`);
  } else if (last > input.final.revision) {
    report(`the watch delivered revision ${last}, beyond the store's final revision ${input.final.revision}`);
  }
  for (const [key, kv] of input.final.kvs) {
    const got = state.get(key);
    if (got === undefined) report(`final state has ${key}=${kv.value}@${kv.modRevision}; replaying the watch has none`);
    else if (got.value !== kv.value || got.modRevision !== kv.modRevision) {
      report(
        `final state has ${key}=${kv.value}@${kv.modRevision}; replaying the watch gives ${got.value}@${got.modRevision}`,
      );
    }
  }
  for (const [key, got] of state) {
    if (!input.final.kvs.has(key))
      report(`replaying the watch leaves ${key}=${got.value}; the final state has no ${key}`);
  }
  for (const op of input.history) {
    if (op.output === UNKNOWN || op.output.revision === undefined || op.output.revision < input.startRevision) continue;
    for (const w of writesOf(op.input, op.output)) {
      const at = byRevision.get(op.output.revision) ?? [];
      const hit = at.some(
        (ev) => ev.key === w.key && ev.type === w.type && (w.value === undefined || ev.value === w.value),
      );
      if (!hit) {
        report(
          `client ${op.clientId} saw ${w.type} ${w.key}${w.value ? `=${w.value}` : ''} succeed at revision ${op.output.revision}; the watch has no such event there`,
        );
      }
    }
  }
  return { ok: problems.length === 0, problems, events: input.events.length, revisions: byRevision.size };
}

function describe(ev: WatchedEvent): string {
  return ev.type === 'PUT' ? `PUT ${ev.key}=${ev.value}@${ev.modRevision}` : `DELETE ${ev.key}@${ev.modRevision}`;
}

interface Write {
  readonly type: 'PUT' | 'DELETE';
  readonly key: string;
  readonly value?: string;
}

/** The changes an operation with a known output made (a delete of a missing key changes nothing). */
function writesOf(input: KvInput, output: KvOutput): Write[] {
  switch (input.op) {
    case 'put':
      return [{ type: 'PUT', key: input.key, value: input.value }];
    case 'delete':
      return output.op === 'delete' && output.deleted > 0 ? [{ type: 'DELETE', key: input.key }] : [];
    case 'cas':
      return output.op === 'cas' && output.succeeded ? [{ type: 'PUT', key: input.key, value: input.value }] : [];
    case 'txn': {
      if (output.op !== 'txn') return [];
      const ops = output.succeeded ? input.success : input.failure;
      const writes: Write[] = [];
      ops.forEach((o, i) => {
        if (o.op === 'put') writes.push({ type: 'PUT', key: o.key, value: o.value });
        const r = output.results?.[i];
        if (o.op === 'delete' && r?.op === 'delete' && r.deleted > 0) writes.push({ type: 'DELETE', key: o.key });
      });
      return writes;
    }
    default:
      return [];
  }
}
