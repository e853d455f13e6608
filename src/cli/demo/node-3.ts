import { defineService } from '../../node/service.js';

/** Demo node 3: a notifier that reports the event flow, and a second math instance (calls are balanced). */
export const notifier = defineService({
  name: 'notifier',
  events: {
    'order.*': (payload, ctx) => {
      process.stdout.write(`event ${ctx.event} from ${ctx.callerId}: ${JSON.stringify(payload)}\n`);
    },
    'invoice.*': (payload, ctx) => {
      process.stdout.write(`event ${ctx.event} from ${ctx.callerId}: ${JSON.stringify(payload)}\n`);
    },
  },
});

export const math = defineService({
  name: 'math',
  actions: {
    add: (p: { a: number; b: number }) => p.a + p.b,
    multiply: (p: { a: number; b: number }) => p.a * p.b,
  },
});

export default [notifier, math];
