import { type Operation, UNKNOWN } from './history.js';
import type { Model } from './model.js';

/**
 * Readable printing of an illegal (sub-)history:
 * 1. a timeline per client: each operation with input → output and [call, return];
 * 2. the longest linearizable prefix the search found, with the model state after each step;
 * 3. why it stops there: the operations that could come next and what the model says about each.
 */

const fmtTime = (t: number) => (t === Infinity ? '∞' : String(t));

export function describeOperation<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  if (model.describeOperation) return model.describeOperation(op.input, op.output);
  const out = op.output === UNKNOWN ? 'unknown' : JSON.stringify(op.output);
  return `${JSON.stringify(op.input)} → ${out}`;
}

function describeState<S, I, O>(model: Model<S, I, O>, state: S): string {
  return model.describeState ? model.describeState(state) : model.key(state);
}

export function describeHistory<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  longestPrefix: readonly number[] = [],
): string {
  const lines: string[] = [];
  const position = new Map<number, number>();
  longestPrefix.forEach((id, k) => {
    position.set(id, k + 1);
  });

  lines.push(`Operations (${operations.length}), per client, by call time; #k = position in the longest prefix:`);
  const clients = new Map<string, number[]>();
  operations.forEach((op, i) => {
    const c = String(op.clientId);
    const l = clients.get(c);
    if (l) l.push(i);
    else clients.set(c, [i]);
  });
  for (const [client, ids] of [...clients.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    lines.push(`  client ${client}:`);
    ids.sort((a, b) => operations[a]!.call - operations[b]!.call);
    for (const i of ids) {
      const op = operations[i]!;
      const mark = position.has(i) ? `#${position.get(i)}` : '  ';
      lines.push(
        `    ${mark.padStart(4)} [${fmtTime(op.call)}, ${fmtTime(op.return)}] ${describeOperation(model, op)}`,
      );
    }
  }

  lines.push(`Longest linearizable prefix (${longestPrefix.length} of ${operations.length}):`);
  let state = model.init();
  lines.push(`    start: ${describeState(model, state)}`);
  longestPrefix.forEach((id, k) => {
    const op = operations[id]!;
    const next = model.step(state, op.input, op.output);
    if (next === undefined) throw new Error('prefix does not replay: the model is not deterministic');
    state = next;
    lines.push(
      `    #${k + 1} client ${op.clientId}: ${describeOperation(model, op)}  ⇒ ${describeState(model, state)}`,
    );
  });

  // Operations not in the prefix; the earliest-returning known one bounds what may come next.
  const placed = new Set(longestPrefix);
  const rest = operations.map((_, i) => i).filter((i) => !placed.has(i));
  const known = rest.filter((i) => operations[i]!.output !== UNKNOWN);
  if (known.length === 0) return lines.join('\n');
  const firstReturn = Math.min(...known.map((i) => operations[i]!.return));
  const candidates = rest.filter((i) => operations[i]!.call <= firstReturn);
  lines.push(`Why it stops: in state ${describeState(model, state)} the next operation must be one of:`);
  for (const i of candidates) {
    const op = operations[i]!;
    const ok = model.step(state, op.input, op.output) !== undefined;
    const why = ok
      ? 'allowed here, but no way to place the remaining operations after it'
      : 'impossible: the model does not allow this output here';
    const must = op.return === firstReturn ? ' (returned first, so it cannot wait)' : '';
    lines.push(
      `    client ${op.clientId} [${fmtTime(op.call)}, ${fmtTime(op.return)}] ${describeOperation(model, op)}: ${why}${must}`,
    );
  }
  return lines.join('\n');
}
