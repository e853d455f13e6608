import { type Operation, UNKNOWN } from './history.js';
import { applyKv, type KvInput, type KvOutput, type KvState } from './kv-model.js';

/**
 * Test support: linearizable-by-construction KV histories. Operations run one at a time against
 * the reference KV (`applyKv`); each gets a linearization point at increasing times, then a
 * concurrency window [call, return] around that point, with one outstanding operation per client.
 */

export interface GenOptions {
  readonly clients: number;
  readonly ops: number;
  readonly keys: number;
  /** Max distance of call/return from the linearization point (points are 10 apart). */
  readonly window: number;
  /** Probability an operation's outcome is recorded as unknown. */
  readonly unknownRate?: number;
  readonly revisions?: boolean;
  /** Allow multi-key txns (they merge key partitions). */
  readonly multiKey?: boolean;
  readonly seed: number;
}

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function randomInput(r: () => number, keys: number, multiKey: boolean, counter: () => string, n: number): KvInput {
  const key = `k${Math.floor(r() * keys)}`;
  const x = r();
  if (x < 0.4) return { op: 'get', key };
  if (x < 0.7) return { op: 'put', key, value: counter() };
  if (x < 0.78) return { op: 'delete', key };
  if (x < 0.9 || !multiKey) return { op: 'cas', key, expect: { value: r() < 0.5 ? null : 'v1' }, value: counter() };
  const other = `k${Math.floor(r() * keys)}`;
  return {
    op: 'txn',
    compare: [{ key, target: 'value', equals: r() < 0.5 ? null : `v${Math.max(1, n - Math.floor(r() * 20))}` }],
    success: [{ op: 'put', key: other, value: counter() }],
    failure: [{ op: 'get', key: other }],
  };
}

export function generateKvHistory(o: GenOptions): Operation<KvInput, KvOutput>[] {
  const r = rng(o.seed);
  let n = 0;
  const counter = () => `v${++n}`;
  const revisions = o.revisions ?? false;
  let state: KvState = { revision: revisions ? 1 : 0, keys: new Map() };
  const busyUntil: number[] = new Array(o.clients).fill(-Infinity);
  const clientIds: number[] = Array.from({ length: o.clients }, (_, i) => i);
  let nextClientId = o.clients;
  const history: Operation<KvInput, KvOutput>[] = [];
  let t = 0;
  while (history.length < o.ops) {
    t += 10;
    const free = busyUntil.map((b, i) => (b < t ? i : -1)).filter((i) => i >= 0);
    if (free.length === 0) continue;
    const c = free[Math.floor(r() * free.length)]!;
    const input = randomInput(r, o.keys, o.multiKey ?? false, counter, n);
    const call = Math.max(busyUntil[c]! + 1, t - Math.floor(r() * o.window));
    const ret = t + Math.floor(r() * o.window);
    if (r() < (o.unknownRate ?? 0)) {
      // Outcome unknown: took effect (at t) or not, at random; the client reconnects as a new one.
      if (r() < 0.5) state = applyKv(state, input, revisions).state;
      history.push({ clientId: clientIds[c]!, input, call, return: Infinity, output: UNKNOWN });
      clientIds[c] = nextClientId++;
      busyUntil[c] = ret;
      continue;
    }
    const applied = applyKv(state, input, revisions);
    state = applied.state;
    history.push({ clientId: clientIds[c]!, input, call, return: ret, output: applied.output });
    busyUntil[c] = ret;
  }
  return history;
}
