import type { QueueClient, QueueMessage } from '../../cluster/client/queue-client.js';
import { ParleyError } from '../../wire/parley-error.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { reportError, toJson } from '../output.js';
import { CLIENT_SECURITY_HELP } from '../security-flags.js';
import { untilStopSignal } from '../stop-signals.js';
import { formatTable } from '../table.js';
import { UsageError } from '../usage-error.js';
import { CLIENT_FLAGS } from './kv-cli-client.js';
import { queueClientFromFlags } from './queue-cli-client.js';
import { preview } from './stream.js';

/**
 * `parley consume STREAM CONSUMER`: fetches messages for a consumer and prints them (a table, or
 * one JSON line per message). A look is harmless by default: without --ack every printed message
 * is nak'ed back at once, so it stays for the consumer (JetStream's `nats consumer next` acks by
 * default; here taking work off the queue is the explicit choice). Messages fetched beyond --max
 * are nak'ed back too, so nothing waits out its ack wait because this command did not print it.
 */

export const CONSUME_USAGE = `usage: parley consume STREAM CONSUMER [--create] [--ack] [--max N] [--wait ms] [--follow] --servers host:port,... [--json]

Fetches up to --max messages for CONSUMER of STREAM and prints them. Without --ack each printed
message is nak'ed back: it is delivered again at once (counting toward the consumer's maxDeliver,
after which it is dead-lettered). With --ack they are acknowledged: they are done for this consumer.

  --ack            acknowledge the messages printed (take them off the queue)
  --create         create CONSUMER first if it does not exist (durable, from the first message)
  --max-deliver N  with --create: deliveries before a message is dead-lettered (default 20)
  --ack-wait ms    with --create: redelivered when not acked within this long (default 30000)
  --max N          most messages to print (default 10)
  --wait ms        wait this long for a message when none is ready (default 1000)
  --follow         keep printing messages as they come until Ctrl-C (needs --ack)
  --servers host:port,...  cluster members (required; or PARLEY_SERVERS)
  --timeout ms     budget of each operation, retries included (default 10000)
  --json           one JSON line per message (payload as UTF-8 text)

${CLIENT_SECURITY_HELP}`;

const FLAGS = {
  ...CLIENT_FLAGS,
  create: { type: 'boolean' },
  ack: { type: 'boolean' },
  'max-deliver': { type: 'string' },
  'ack-wait': { type: 'string' },
  max: { type: 'string' },
  wait: { type: 'string' },
  follow: { type: 'boolean' },
} as const;

export async function runConsume(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(argv, FLAGS, CONSUME_USAGE, { min: 0, max: 2 });
  if (flags.help) {
    process.stdout.write(`${CONSUME_USAGE}\n`);
    return 0;
  }
  const [stream, consumer] = positionals;
  if (stream === undefined || consumer === undefined) {
    throw new UsageError('consume takes STREAM and CONSUMER', CONSUME_USAGE);
  }
  const ack = flags.ack === true;
  const follow = flags.follow === true;
  if (follow && !ack) {
    throw new UsageError('--follow needs --ack (nak-ed messages would come back to it at once)', CONSUME_USAGE);
  }
  const maxDeliver = intFlag(flags['max-deliver'], 'max-deliver', CONSUME_USAGE, 1, 1_000_000);
  const ackWaitMs = intFlag(flags['ack-wait'], 'ack-wait', CONSUME_USAGE, 100, 86_400_000);
  if ((maxDeliver !== undefined || ackWaitMs !== undefined) && flags.create !== true) {
    throw new UsageError('--max-deliver and --ack-wait set up a new consumer: add --create', CONSUME_USAGE);
  }
  const max = intFlag(flags.max, 'max', CONSUME_USAGE, 1, 10_000);
  const waitMs = intFlag(flags.wait, 'wait', CONSUME_USAGE, 0, 30_000) ?? 1000;
  const json = flags.json === true;
  const queues = await queueClientFromFlags(flags, CONSUME_USAGE);
  try {
    if (flags.create === true) {
      await queues.consumers.create(stream, {
        name: consumer,
        ...(maxDeliver === undefined ? {} : { maxDeliver }),
        ...(ackWaitMs === undefined ? {} : { ackWaitMs }),
      });
    }
    if (follow) return await followMessages(queues, stream, consumer, json, max);
    const limit = max ?? 10;
    const fetched = await queues.fetch(stream, consumer, { max: limit, waitMs });
    const shown = fetched.slice(0, limit);
    // Finish the messages before printing: printed means acked (or given back).
    await Promise.all([
      ...shown.map((m) => (ack ? m.ack() : m.nak(0, GIVEN_BACK))),
      ...fetched.slice(limit).map((m) => m.nak(0, GIVEN_BACK)),
    ]);
    if (json) for (const m of shown) process.stdout.write(`${toJson(messageJson(m), false)}\n`);
    else if (shown.length === 0) process.stderr.write(`no messages for consumer ${consumer} of ${stream}\n`);
    else
      process.stdout.write(
        `${formatTable(
          ['PARTITION', 'SEQ', 'SUBJECT', 'KEY', 'DELIVERIES', 'PAYLOAD'],
          shown.map((m) => [m.partition, m.seq, m.subject, m.key ?? '', m.deliveries, preview(m.text(), 60)]),
        )}\n`,
      );
    return 0;
  } catch (err) {
    return reportError(withCreateAdvice(err, flags.create === true));
  } finally {
    await queues.close();
  }
}

async function followMessages(
  queues: QueueClient,
  stream: string,
  consumer: string,
  json: boolean,
  max: number | undefined,
): Promise<number> {
  let printed = 0;
  let failure: unknown;
  let reachedMax = () => {};
  const enough = new Promise<void>((resolve) => {
    reachedMax = resolve;
  });
  const consumption = queues.consume(
    stream,
    consumer,
    (m) => {
      if (max !== undefined && printed >= max) throw new Error('this command printed --max messages already');
      printed++;
      process.stdout.write(
        json
          ? `${toJson(messageJson(m), false)}\n`
          : `${m.partition}/${m.seq} ${m.subject} ${preview(m.text(), 200)}\n`,
      );
      if (max !== undefined && printed >= max) reachedMax();
    },
    {
      max: max ?? 100,
      onError: (err) => {
        const e = ParleyError.from(err);
        // A consumer or stream that does not exist will not start to: stop instead of retrying.
        if (e.code === 'NOT_FOUND' || e.code === 'PERMISSION_DENIED' || e.code === 'UNAUTHENTICATED') {
          failure = e;
          reachedMax();
        }
      },
    },
  );
  process.stderr.write(`consuming ${stream} as ${consumer}, acking each message (Ctrl-C to stop)\n`);
  await Promise.race([untilStopSignal(), enough]);
  await consumption.stop();
  if (failure !== undefined) return reportError(withCreateAdvice(failure, false));
  return 0;
}

/** A message as one JSON object: the payload as text. */
function messageJson(m: QueueMessage) {
  return {
    stream: m.stream,
    partition: m.partition,
    seq: m.seq,
    subject: m.subject,
    ...(m.key === undefined ? {} : { key: m.key }),
    ...(m.headers === undefined ? {} : { headers: m.headers }),
    ...(m.msgId === undefined ? {} : { msgId: m.msgId }),
    time: m.time,
    deliveries: m.deliveries,
    payload: m.text(),
  };
}

function withCreateAdvice(err: unknown, created: boolean): unknown {
  const e = ParleyError.from(err);
  if (created || e.code !== 'NOT_FOUND' || !e.message.startsWith('consumer ')) return e;
  return new ParleyError(e.code, `${e.message} (add --create to make a durable consumer)`, { details: e.details });
}

/** Kept with a message dead-lettered because `parley consume` gave it back once too often. */
const GIVEN_BACK = 'given back by parley consume (no --ack)';
