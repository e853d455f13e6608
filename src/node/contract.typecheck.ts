/**
 * Type-level tests: compiled by `tsc` (npm run check / build) and never run. Each
 * `@ts-expect-error` line must fail to type-check, so if types stop flowing from service
 * definitions to callers, the build fails.
 */
import { createNode } from './node.js';
import { type ContractOf, defineService } from './service.js';

const math = defineService({
  name: 'math',
  actions: {
    add: (p: { a: number; b: number }) => p.a + p.b,
    div: { handler: async (p: { a: number; b: number }) => ({ q: p.a / p.b }), timeout: 100 },
  },
});
const greeter = defineService({ name: 'greeter', actions: { hello: (p: { name: string }) => `hello ${p.name}` } });

type Api = ContractOf<typeof math | typeof greeter>;

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

export async function untypedCalls(): Promise<void> {
  const node = createNode({ port: null });
  const anything = await node.call('whatever.action', { any: 'thing' });
  void anything;
}
