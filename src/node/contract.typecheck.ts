/**
 * Type-level tests: compiled by `tsc` (npm run check / build) and never run. Each
 * `@ts-expect-error` line must fail to type-check, so if types stop flowing from service
 * definitions to callers, the build fails.
 */
import type { Context, EventContext } from './context.js';
import { createNode } from './node.js';
import { type ContractOf, defineService, type ServiceDefinition } from './service.js';

const math = defineService({
  name: 'math',
  actions: {
    add: (p: { a: number; b: number }) => p.a + p.b,
    div: { handler: async (p: { a: number; b: number }) => ({ q: p.a / p.b }), timeout: 100 },
  },
});
const greeter = defineService({ name: 'greeter', actions: { hello: (p: { name: string }) => `hello ${p.name}` } });

type Api = ContractOf<typeof math | typeof greeter>;
type Events = { 'order.created': { id: string }; 'order.cancelled': { id: string; reason: string } };

export async function typedCalls(): Promise<void> {
  const node = createNode<Api>({ port: null });
  const sum: number = await node.call('math.add', { a: 1, b: 2 });
  const { q }: { q: number } = await node.call('math.div', { a: 1, b: 2 });
  const text: string = await node.call('greeter.hello', { name: 'x' });
  // @ts-expect-error b must be a number
  await node.call('math.add', { a: 1, b: 'x' });
  // @ts-expect-error unknown action
  await node.call('math.sub', { a: 1, b: 2 });
  // @ts-expect-error the result is a number, not a string
  const wrong: string = await node.call('math.add', { a: 1, b: 2 });
  void [sum, q, text, wrong];
}

export async function typedOptions(): Promise<void> {
  const node = createNode<Api>({ port: null });
  await node.call('math.add', { a: 1, b: 2 }, { timeout: 100, priority: 0, idempotencyKey: 'k' });
  // @ts-expect-error misspelled option: there is no catch-all index signature on CallOptions
  await node.call('math.add', { a: 1, b: 2 }, { timout: 100 });
  // @ts-expect-error timeout is a number of ms
  await node.call('math.add', { a: 1, b: 2 }, { timeout: '100ms' });
  // @ts-expect-error misspelled option on send
  node.send('math.add', { a: 1, b: 2 }, { nodID: 'n1' });
  const svc: ServiceDefinition = {
    name: 'svc',
    // @ts-expect-error misspelled action option: there is no catch-all index signature on ActionOptions
    actions: { get: { handler: () => 1, timout: 100 } },
  };
  void svc;
}

export function typedSend(): void {
  const node = createNode<Api>({ port: null });
  node.send('math.add', { a: 1, b: 2 });
  // @ts-expect-error b must be a number
  node.send('math.add', { a: 1, b: 'x' });
  // @ts-expect-error unknown action
  node.send('math.sub', { a: 1, b: 2 });
}

export async function typedEvents(): Promise<void> {
  const node = createNode<Api, Events>({ port: null });
  await node.emit('order.created', { id: 'o1' });
  await node.broadcast('order.cancelled', { id: 'o1', reason: 'late' });
  // @ts-expect-error id must be a string
  await node.emit('order.created', { id: 1 });
  // @ts-expect-error reason is missing
  await node.broadcast('order.cancelled', { id: 'o1' });
  // @ts-expect-error unknown event
  await node.emit('order.shipped', { id: 'o1' });
}

export function typedContext(): void {
  defineService({
    name: 'checkout',
    actions: {
      total: async (p: { items: number[] }, ctx: Context<Api>) => {
        let sum = 0;
        for (const n of p.items) sum = await ctx.call('math.add', { a: sum, b: n });
        // @ts-expect-error b must be a number
        await ctx.call('math.add', { a: sum, b: 'x' });
        // @ts-expect-error the result is a number
        const s: string = await ctx.call('math.add', { a: 1, b: 2 });
        // @ts-expect-error unknown action
        ctx.send('math.sub', { a: 1, b: 2 });
        void s;
        return sum;
      },
    },
  });
}

export function typedEventContext(): void {
  defineService({
    name: 'audit',
    events: {
      'order.created': async (p: { id: string }, ctx: EventContext<Api>) => {
        const n: number = await ctx.call('math.add', { a: 1, b: 2 });
        // @ts-expect-error b must be a number
        await ctx.call('math.add', { a: 1, b: p.id });
        void n;
      },
    },
  });
}

export async function untypedCalls(): Promise<void> {
  const node = createNode({ port: null });
  const anything = await node.call('whatever.action', { any: 'thing' });
  await node.emit('anything.happened', { any: 'payload' });
  node.send('whatever.action', 42);
  void anything;
}
