import { randomUUID } from 'node:crypto';
import { defineService } from '../../node/service.js';

/** Demo node 1: arithmetic, and the orders service that starts the event flow. */
export const math = defineService({
  name: 'math',
  actions: {
    add: (p: { a: number; b: number }) => p.a + p.b,
    multiply: (p: { a: number; b: number }) => p.a * p.b,
  },
});

export const orders = defineService({
  name: 'orders',
  actions: {
    /** Creates an order and emits `order.created`: billing bills it, the notifier reports both steps. */
    create: async (p: { item: string; qty?: number; price?: number }, ctx) => {
      const order = { id: `o-${randomUUID().slice(0, 8)}`, item: p.item, qty: p.qty ?? 1, price: p.price ?? 10 };
      await ctx.emit('order.created', order);
      return order;
    },
  },
});

export default [math, orders];
