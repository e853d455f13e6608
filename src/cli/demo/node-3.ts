import { type Consumption, queuesFor } from '../../cluster/client/queue-client.js';
import { defineService } from '../../node/service.js';

/** The stream `parley up` creates before it starts the demo nodes, and the consumer node 3 runs on it. */
export const DEMO_STREAM = { name: 'orders', subjects: ['orders.>'] } as const;
const CONSUMER = 'fulfilment';

/** Demo node 3: a notifier that reports the event flow, a second math instance (calls are balanced), and fulfilment, a queue consumer of the orders stream. */
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

let consumption: Consumption | undefined;

/** Handles every message published to the `orders` stream once (acked when it returns), and logs it. */
export const fulfilment = defineService({
  name: 'fulfilment',
  started: async ({ node }) => {
    const queues = queuesFor(node);
    await queues.consumers.create(DEMO_STREAM.name, { name: CONSUMER, ackWaitMs: 5000 });
    consumption = queues.consume(
      DEMO_STREAM.name,
      CONSUMER,
      (m) => {
        process.stdout.write(`queue ${m.subject} #${m.seq} handled by ${CONSUMER}: ${m.text()}\n`);
      },
      { waitMs: 1000, onError: (err) => process.stderr.write(`fulfilment: ${(err as Error).message}\n`) },
    );
  },
  stopped: async () => {
    await consumption?.stop();
  },
});

export default [notifier, math, fulfilment];
