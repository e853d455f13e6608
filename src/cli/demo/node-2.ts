import { defineService } from '../../node/service.js';

/** Demo node 2: a greeter, and billing, which turns every created order into an invoice. */
export const greeter = defineService({
  name: 'greeter',
  actions: {
    hello: (p: { name?: string }, ctx) => `Hello, ${p?.name ?? 'world'}! (from ${ctx.nodeId})`,
  },
});

export const billing = defineService({
  name: 'billing',
  events: {
    'order.created': {
      group: 'billing',
      handler: async (order: { id: string; qty: number; price: number }, ctx) => {
        const total = await ctx.call('math.multiply', { a: order.qty, b: order.price });
        await ctx.emit('invoice.issued', { order: order.id, total });
      },
    },
  },
});

export default [greeter, billing];
