import type { PublishAck, PublishOptions } from '../../cluster/client/queue-client.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { reportError, toJson } from '../output.js';
import { CLIENT_SECURITY_HELP } from '../security-flags.js';
import { UsageError } from '../usage-error.js';
import { CLIENT_FLAGS } from './kv-cli-client.js';
import { queueClientFromFlags } from './queue-cli-client.js';

/**
 * `parley publish SUBJECT PAYLOAD|-`: stores a message in the stream whose subjects match and prints
 * where it went once a quorum of the partition's replicas has it. With --count N it publishes N
 * copies, up to WINDOW at a time (the client batches those of one turn per partition), prints a
 * progress line on stderr and the rate at the end; a --msg-id then gets the suffix -1..-N.
 */

export const PUBLISH_USAGE = `usage: parley publish SUBJECT PAYLOAD|- [--partition-key K] [--msg-id ID] [--header k=v]... [--delay ms] [--count N] --servers host:port,... [--json]

Publishes a message (PAYLOAD, or stdin with -) to the durable stream whose subjects match SUBJECT
and prints 'stream partition seq' once a quorum of the partition's replicas stored it.

  --partition-key K  chooses the partition: messages with the same key keep their order
                   (the message's key; --key is the security key file)
  --msg-id ID      deduplication id: the same id again within the stream's --dedup-window is stored once
  --header k=v     a message header (repeatable)
  --delay ms       not delivered to consumers before this many ms from now
  --count N        publish N copies (a --msg-id gets the suffix -1..-N); prints progress and the rate
  --stream NAME    the stream (default: the one whose subjects match SUBJECT)
  --servers host:port,...  cluster members (required; or PARLEY_SERVERS)
  --timeout ms     budget of each publish, retries included (default 10000)
  --json           print each result (or, with --count, the summary) as one JSON line

${CLIENT_SECURITY_HELP}`;

const FLAGS = {
  ...CLIENT_FLAGS,
  'partition-key': { type: 'string' },
  'msg-id': { type: 'string' },
  header: { type: 'string', multiple: true },
  delay: { type: 'string' },
  count: { type: 'string' },
  stream: { type: 'string' },
} as const;

/** Publishes in flight at once with --count. */
const WINDOW = 256;

export async function runPublish(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(argv, FLAGS, PUBLISH_USAGE, { min: 0, max: 2 });
  if (flags.help) {
    process.stdout.write(`${PUBLISH_USAGE}\n`);
    return 0;
  }
  const [subject, payloadArg] = positionals;
  if (subject === undefined || payloadArg === undefined) {
    throw new UsageError('publish takes SUBJECT and PAYLOAD (or - to read it from stdin)', PUBLISH_USAGE);
  }
  const headers: Record<string, string> = {};
  for (const h of (flags.header as string[] | undefined) ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header expects k=v, got '${h}'`, PUBLISH_USAGE);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const delayMs = intFlag(flags.delay, 'delay', PUBLISH_USAGE, 0, Number.MAX_SAFE_INTEGER);
  const count = intFlag(flags.count, 'count', PUBLISH_USAGE, 1, 100_000_000);
  const payload = payloadArg === '-' ? await readStdin() : payloadArg;
  const msgId = flags['msg-id'] as string | undefined;
  const options = (i: number | undefined): PublishOptions => ({
    ...(flags.stream === undefined ? {} : { stream: flags.stream as string }),
    ...(flags['partition-key'] === undefined ? {} : { key: flags['partition-key'] as string }),
    ...(msgId === undefined ? {} : { msgId: i === undefined ? msgId : `${msgId}-${i}` }),
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    ...(delayMs === undefined ? {} : { delayMs }),
  });
  const json = flags.json === true;
  const queues = await queueClientFromFlags(flags, PUBLISH_USAGE);
  try {
    if (count === undefined) {
      const ack = await queues.publish(subject, payload, options(undefined));
      process.stdout.write(json ? `${toJson(ack, false)}\n` : `${describeAck(ack)}\n`);
      return 0;
    }
    const started = performance.now();
    let done = 0;
    let duplicates = 0;
    let lastProgress = started;
    const progress = () => {
      const now = performance.now();
      if (now - lastProgress < 1000 && done < count) return;
      lastProgress = now;
      process.stderr.write(`published ${done}/${count}\n`);
    };
    let next = 1;
    const worker = async () => {
      while (next <= count) {
        const i = next++;
        const ack = await queues.publish(subject, payload, options(i));
        done++;
        if (ack.duplicate) duplicates++;
        progress();
      }
    };
    await Promise.all(Array.from({ length: Math.min(WINDOW, count) }, worker));
    const ms = performance.now() - started;
    const rate = Math.round((count / Math.max(ms, 1)) * 1000);
    const summary = { subject, published: count, duplicates, ms: Math.round(ms), perSecond: rate };
    process.stdout.write(
      json
        ? `${toJson(summary, false)}\n`
        : `published ${count} message(s) to ${subject} in ${summary.ms} ms (${rate} msg/s${duplicates > 0 ? `, ${duplicates} duplicate(s)` : ''})\n`,
    );
    return 0;
  } catch (err) {
    return reportError(err);
  } finally {
    await queues.close();
  }
}

export function describeAck(ack: PublishAck): string {
  return `stream ${ack.stream} partition ${ack.partition} seq ${ack.seq}${ack.duplicate ? ' (duplicate: stored before)' : ''}`;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
