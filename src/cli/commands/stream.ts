import type { QueueClient } from '../../cluster/client/queue-client.js';
import type { StreamConfig } from '../../queue/types.js';
import { ParleyError } from '../../wire/parley-error.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { reportError, toJson } from '../output.js';
import { CLIENT_SECURITY_HELP } from '../security-flags.js';
import { formatBytes, formatDuration, formatTable } from '../table.js';
import { UsageError } from '../usage-error.js';
import { CLIENT_FLAGS, readable, utf8 } from './kv-cli-client.js';
import { queueClientFromFlags } from './queue-cli-client.js';

/**
 * `parley stream add|ls|info|rm` and `parley dlq ls|replay`: durable streams as tables (or one JSON
 * line with --json). Limits are checked by the servers (stream-config.ts), whose INVALID_ARGUMENT
 * names the field; this command adds which flag sets it.
 */

export const STREAM_USAGE = `usage: parley stream <add|ls|info|rm> ... --servers host:port,... [--timeout ms] [--json]

  stream add NAME --subjects a.>,b.*   creates a durable stream (the same config again: no change)
      [--partitions N]      partitions, each its own Raft group (default 1)
      [--replicas 1|3|5]    copies of each partition (default 3; at most the number of servers)
      [--retention limits|work-queue]   limits: keep until a limit; work-queue: until every consumer acked
      [--max-messages N] [--max-bytes N] [--max-age ms]   limits per partition (0: none)
      [--discard old|new]   when full: drop the oldest message, or refuse the new one (default old)
      [--dedup-window ms]   a --msg-id published again within this window is stored once (default 120000)
  stream ls                 one line per stream: subjects, partitions, replicas, messages
  stream info NAME          partitions (leader, voters, messages, first/last seq, dead letters) and consumers
  stream rm NAME            deletes the stream, its messages and its consumers

  Subjects are tokens separated by '.'; '*' matches one token, '>' the rest (last token only).

  --servers host:port,...  cluster members (required; or PARLEY_SERVERS)
  --timeout ms             budget of each operation, retries included (default 10000)
  --json                   print full results as one JSON line

${CLIENT_SECURITY_HELP}`;

export const DLQ_USAGE = `usage: parley dlq <ls|replay> STREAM ... --servers host:port,... [--json]

  dlq ls STREAM [--partition P]         the dead letters: messages a consumer gave up on
                                        (terminated, or delivered maxDeliver times without an ack)
  dlq replay STREAM SEQ... [--partition P]   publishes those dead letters again as new messages
                                        (to every consumer) and removes them from the dead-letter log

  --partition P            the partition (default 0; 'parley stream info' shows each one's dead letters)
  --servers host:port,...  cluster members (required; or PARLEY_SERVERS)
  --timeout ms             budget of each operation, retries included (default 10000)
  --json                   print full results as one JSON line

${CLIENT_SECURITY_HELP}`;

const STREAM_FLAGS = {
  ...CLIENT_FLAGS,
  subjects: { type: 'string', multiple: true },
  partitions: { type: 'string' },
  replicas: { type: 'string' },
  retention: { type: 'string' },
  'max-messages': { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-age': { type: 'string' },
  discard: { type: 'string' },
  'dedup-window': { type: 'string' },
} as const;

const MAX = Number.MAX_SAFE_INTEGER;

export async function runStream(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(argv, STREAM_FLAGS, STREAM_USAGE, { min: 0, max: 2 });
  if (flags.help) {
    process.stdout.write(`${STREAM_USAGE}\n`);
    return 0;
  }
  const [sub, name] = positionals;
  if (sub !== 'add' && sub !== 'ls' && sub !== 'info' && sub !== 'rm') {
    throw new UsageError(`unknown or missing subcommand '${sub ?? ''}'`, STREAM_USAGE);
  }
  if (sub === 'ls' ? name !== undefined : name === undefined) {
    throw new UsageError(`stream ${sub} takes ${sub === 'ls' ? 'no argument' : 'a stream NAME'}`, STREAM_USAGE);
  }
  const config = sub === 'add' ? streamConfigOf(name!, flags) : undefined;
  const json = flags.json === true;
  const queues = await queueClientFromFlags(flags, STREAM_USAGE);
  try {
    switch (sub) {
      case 'add': {
        const view = await queues.streams.create(config!).catch((err: unknown) => {
          throw withFlagAdvice(err);
        });
        process.stdout.write(
          json
            ? `${toJson(view, false)}\n`
            : `stream ${view.config.name}: subjects ${view.config.subjects.join(', ')}, ${view.partitions.length} partition(s) of ${view.partitions[0]?.voters.length ?? 0} replica(s)\n`,
        );
        return 0;
      }
      case 'ls': {
        const views = await queues.streams.list();
        if (json) {
          process.stdout.write(`${toJson(views, false)}\n`);
          return 0;
        }
        if (views.length === 0) {
          process.stdout.write("no streams; create one with 'parley stream add NAME --subjects a.>'\n");
          return 0;
        }
        process.stdout.write(
          `${formatTable(
            ['NAME', 'SUBJECTS', 'PARTITIONS', 'REPLICAS', 'RETENTION'],
            views.map((v) => [
              v.config.name,
              v.config.subjects.join(','),
              v.partitions.length,
              v.partitions[0]?.voters.length ?? 0,
              v.config.retention,
            ]),
          )}\n`,
        );
        return 0;
      }
      case 'info':
        return await info(queues, name!, json);
      case 'rm':
        await queues.streams.delete(name!);
        process.stdout.write(json ? `${toJson({ deleted: name }, false)}\n` : `deleted stream ${name}\n`);
        return 0;
    }
  } catch (err) {
    return reportError(err);
  } finally {
    await queues.close();
  }
}

/** The stream config the flags describe (only the fields given: the servers fill in defaults). */
function streamConfigOf(name: string, flags: Record<string, unknown>): Partial<StreamConfig> & StreamConfigName {
  const list = Array.isArray(flags.subjects) ? (flags.subjects as string[]) : [];
  const subjects = list.flatMap((s) => s.split(',')).filter((s) => s.length > 0);
  if (subjects.length === 0) throw new UsageError('stream add needs --subjects a.>,b.* (what it stores)', STREAM_USAGE);
  const num = (flag: string, min: number) => intFlag(flags[flag], flag, STREAM_USAGE, min, MAX);
  const choice = <T extends string>(flag: string, allowed: readonly T[]): T | undefined => {
    const v = flags[flag];
    if (v === undefined) return undefined;
    if (!allowed.includes(v as T)) {
      throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${String(v)}'`, STREAM_USAGE);
    }
    return v as T;
  };
  const fields: Record<string, unknown> = {
    name,
    subjects,
    partitions: num('partitions', 1),
    replicas: num('replicas', 1),
    retention: choice('retention', ['limits', 'work-queue'] as const),
    maxMessages: num('max-messages', 0),
    maxBytes: num('max-bytes', 0),
    maxAgeMs: num('max-age', 0),
    discard: choice('discard', ['old', 'new'] as const),
    dedupWindowMs: num('dedup-window', 0),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<StreamConfig> &
    StreamConfigName;
}
type StreamConfigName = { name: string; subjects: readonly string[] };

const FLAG_OF_FIELD: Record<string, string> = {
  name: 'NAME',
  subjects: '--subjects',
  partitions: '--partitions',
  replicas: '--replicas',
  maxMessages: '--max-messages',
  maxBytes: '--max-bytes',
  maxAgeMs: '--max-age',
  dedupWindowMs: '--dedup-window',
};

/** A refused config names the field; say which flag to change. */
function withFlagAdvice(err: unknown): unknown {
  const e = ParleyError.from(err);
  const field = (e.details as { field?: string } | undefined)?.field;
  const flag = field === undefined ? undefined : FLAG_OF_FIELD[field];
  if (e.code !== 'INVALID_ARGUMENT' || flag === undefined) return e;
  return new ParleyError(e.code, `${e.message}; change ${flag} (parley stream add --help)`, { details: e.details });
}

async function info(queues: QueueClient, name: string, json: boolean): Promise<number> {
  const view = await queues.streams.info(name);
  if (json) {
    process.stdout.write(`${toJson(view, false)}\n`);
    return 0;
  }
  const c = view.config;
  const limits = [
    c.maxMessages > 0 ? `${c.maxMessages} messages` : '',
    c.maxBytes > 0 ? formatBytes(c.maxBytes) : '',
    c.maxAgeMs > 0 ? formatDuration(c.maxAgeMs) : '',
  ].filter((s) => s !== '');
  process.stdout.write(
    [
      `stream ${c.name}: subjects ${c.subjects.join(', ')}; ${c.retention} retention, discard ${c.discard}; ` +
        `limits per partition: ${limits.length > 0 ? limits.join(', ') : 'none'}`,
      formatTable(
        ['PARTITION', 'LEADER', 'VOTERS', 'MESSAGES', 'BYTES', 'FIRST', 'LAST', 'DEAD', 'CONSUMERS'],
        view.partitions.map((p, i) => {
          const pi = view.partitionInfo[i]!;
          return [
            i,
            p.leader ?? '-',
            p.voters.join(','),
            pi.messages,
            pi.bytes,
            pi.firstSeq,
            pi.lastSeq,
            pi.deadLetters,
            pi.consumers,
          ];
        }),
      ),
      '',
    ].join('\n'),
  );
  return 0;
}

const DLQ_FLAGS = { ...CLIENT_FLAGS, partition: { type: 'string' } } as const;

export async function runDlq(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseCommandArgs(argv, DLQ_FLAGS, DLQ_USAGE, { min: 0, max: 1000 });
  if (flags.help) {
    process.stdout.write(`${DLQ_USAGE}\n`);
    return 0;
  }
  const [sub, stream, ...rest] = positionals;
  if (sub !== 'ls' && sub !== 'replay') throw new UsageError(`unknown or missing subcommand '${sub ?? ''}'`, DLQ_USAGE);
  if (stream === undefined) throw new UsageError(`dlq ${sub} needs a STREAM`, DLQ_USAGE);
  if (sub === 'ls' && rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`, DLQ_USAGE);
  if (sub === 'replay' && rest.length === 0) {
    throw new UsageError("dlq replay needs the SEQ of each dead letter ('parley dlq ls STREAM' lists them)", DLQ_USAGE);
  }
  const seqs = rest.map((s) => intFlag(s, 'SEQ', DLQ_USAGE, 1, MAX)!);
  const partition = intFlag(flags.partition, 'partition', DLQ_USAGE, 0, 1023) ?? 0;
  const json = flags.json === true;
  const queues = await queueClientFromFlags(flags, DLQ_USAGE);
  try {
    if (sub === 'ls') {
      const letters = await queues.streams.deadLetters(stream, partition);
      if (json) process.stdout.write(`${toJson(readable(letters), false)}\n`);
      else if (letters.length === 0) process.stdout.write(`no dead letters in ${stream} partition ${partition}\n`);
      else
        process.stdout.write(
          `${formatTable(
            ['SEQ', 'MESSAGE', 'SUBJECT', 'CONSUMER', 'DELIVERIES', 'REASON', 'ERROR', 'PAYLOAD'],
            letters.map((d) => [
              d.seq,
              d.message.seq,
              d.message.subject,
              d.consumer,
              d.deliveries,
              d.reason,
              d.lastError ?? '',
              preview(utf8(d.message.payload)),
            ]),
          )}\n`,
        );
      return 0;
    }
    const outcomes = await queues.streams.replayDeadLetters(stream, partition, seqs);
    const lines = outcomes.map((o, i) =>
      'error' in o
        ? { deadLetter: seqs[i], error: { code: o.error.code, message: o.error.message } }
        : { deadLetter: seqs[i], seq: o.seq },
    );
    if (json) process.stdout.write(`${toJson(lines, false)}\n`);
    else
      for (const l of lines) {
        if ('error' in l) process.stderr.write(`dead letter ${l.deadLetter}: ${l.error!.code}: ${l.error!.message}\n`);
        else
          process.stdout.write(
            `dead letter ${l.deadLetter} replayed as ${stream} partition ${partition} seq ${l.seq}\n`,
          );
      }
    return lines.some((l) => 'error' in l) ? 1 : 0;
  } catch (err) {
    return reportError(err);
  } finally {
    await queues.close();
  }
}

/** The first line of a payload, cut to fit a table. */
export function preview(text: string, width = 40): string {
  const line = text.split('\n')[0]!;
  return line.length > width || text.includes('\n') ? `${line.slice(0, width - 1)}…` : line;
}
