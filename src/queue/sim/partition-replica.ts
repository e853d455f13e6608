import { PartitionStateMachine } from '../partition-state-machine.js';
import type { PartitionReplica } from './queue-application.js';

const decoder = new TextDecoder();
const ALL = 1_000_000_000;

/**
 * The real partition replica (partition-state-machine.ts with the consumers' table) as the
 * simulation runs it, and the view the checker reads: every stored message, every dead letter,
 * and the named consumers' ack floor, pending and waiting counts.
 */
export function partitionReplica(): PartitionReplica {
  const sm = new PartitionStateMachine();
  return {
    apply: (cmd) => sm.applyCommand(cmd),
    snapshot: () => sm.snapshot(),
    restore: (bytes) => sm.restore(bytes),
    view: (consumers) => {
      const log = sm.messages;
      const messages = [];
      for (let m = log.nextAtOrAfter(log.firstSeq); m !== undefined; m = log.nextAtOrAfter(m.seq + 1)) {
        messages.push({ seq: m.seq, id: decoder.decode(m.payload), ...(m.key === undefined ? {} : { key: m.key }) });
      }
      return {
        lastSeq: log.lastSeq,
        messages,
        deadLetters: sm.deadLetters(1, ALL).map((d) => ({
          seq: d.message.seq,
          id: decoder.decode(d.message.payload),
          consumer: d.consumer,
          reason: d.reason,
          deliveries: d.deliveries,
        })),
        consumers: consumers.map((name) => {
          const c = sm.consumerInfo(name);
          return { name, ackFloor: c.ackFloor, pending: c.pending, waiting: c.waiting };
        }),
      };
    },
  };
}
