/**
 * A node process for the process-level tests. argv[2] is JSON: { id, seeds, group, failureTimeout }.
 * Prints one JSON line {"ready": address} when started; stops gracefully on SIGTERM (exit 0).
 */

import type { Context, EventContext } from '../../src/node/context.js';
import { createNode } from '../../src/node/node.js';
import { ParleyError } from '../../src/wire/parley-error.js';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  id: string;
  seeds?: string[];
  group?: string;
  failureTimeout?: number;
};
const recorded: unknown[] = [];
const events: { event: string; seq: number; missed: number; from: string; group: string }[] = [];
let aborted = 0;

const node = createNode({
  id: config.id,
  seeds: config.seeds ?? [],
  logger: 'error',
  failureTimeout: config.failureTimeout ?? 1000,
});
node.addService({
  name: 'svc',
  actions: {
    add: (p: { a: number; b: number }) => p.a + p.b,
    whoami: () => config.id,
    fail: () => {
      throw new Error('plain failure');
    },
    denied: () => {
      throw new ParleyError('PERMISSION_DENIED', 'denied here', { details: { node: config.id } });
    },
    slow: (p: { ms: number }, ctx: Context) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(config.id), p.ms);
        ctx.signal.addEventListener('abort', () => {
          aborted++;
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      }),
    deadline: (_p: unknown, ctx: Context) => ctx.deadline ?? null,
    nested: async (p: { target: string }, ctx: Context) => ({ outer: ctx.deadline, inner: await ctx.call(p.target) }),
    record: (p: unknown) => {
      recorded.push(p);
    },
    recorded: () => recorded,
    aborted: () => aborted,
    events: () => events,
  },
  events: {
    'job.*': {
      group: config.group ?? 'workers',
      handler: (_payload: unknown, ctx: EventContext) => {
        events.push({ event: ctx.event, seq: ctx.seq, missed: ctx.missed, from: ctx.callerId, group: ctx.group });
      },
    },
  },
});

await node.start();
process.stdout.write(`${JSON.stringify({ ready: node.address })}\n`);
process.once('SIGTERM', async () => {
  await node.stop();
  process.exit(0);
});
