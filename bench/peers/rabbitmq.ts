/**
 * RabbitMQ quorum queues as a queue-benchmark system, on the broker already running at 127.0.0.1:5672
 * (BENCH_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672; not started here, skipped when it does not answer).
 * A queue is a durable quorum queue (`x-queue-type: quorum`; its replicas are the broker's cluster members — one
 * on a single-node broker, stated in the description); publishes are persistent and wait for the publisher
 * confirm (sent once the quorum queue's Raft log fsynced the message). Publishers share one confirm channel.
 * A consumer is its own channel with prefetch 100 that acks every message (AMQP acks are not confirmed: counted
 * when sent).
 */
import amqp from 'amqplib';
import { pidsNamed } from './jetstream.js';
import { PeerUnavailableError } from './peer-system.js';
import type { BenchQueue, QueueSystem } from './queue-system.js';

const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PREFETCH = 100;

class RabbitQueue implements BenchQueue {
  constructor(
    private readonly connection: amqp.ChannelModel,
    private readonly channel: amqp.ConfirmChannel,
    private readonly name: string,
  ) {}

  publish(payload: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.channel.sendToQueue(
        this.name,
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        { persistent: true },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  async consume(consumers: number, onAcked: () => void): Promise<{ stop(): Promise<void> }> {
    const channels: amqp.Channel[] = [];
    for (let i = 0; i < consumers; i++) {
      const ch = await this.connection.createChannel();
      await ch.prefetch(PREFETCH);
      await ch.consume(this.name, (msg) => {
        if (msg === null) return;
        ch.ack(msg);
        onAcked();
      });
      channels.push(ch);
    }
    return { stop: async () => void (await Promise.all(channels.map((c) => c.close().catch(() => undefined)))) };
  }

  async delete(): Promise<void> {
    await this.channel.deleteQueue(this.name);
  }
}

class RabbitSystem implements QueueSystem {
  readonly name = 'rabbitmq';
  readonly partitioned = false;
  readonly pids = pidsNamed('beam.smp');

  constructor(
    readonly description: string,
    private readonly connection: amqp.ChannelModel,
    private readonly channel: amqp.ConfirmChannel,
  ) {}

  async createQueue(name: string): Promise<BenchQueue> {
    await this.channel.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    return new RabbitQueue(this.connection, this.channel, name);
  }

  async stop(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

export async function startRabbitMq(): Promise<QueueSystem> {
  let connection: amqp.ChannelModel;
  try {
    connection = await amqp.connect(AMQP_URL, { timeout: 2000, noDelay: true });
  } catch (err) {
    throw new PeerUnavailableError(
      `RabbitMQ at ${AMQP_URL.replace(/\/\/[^@]*@/, '//')} did not answer: ${(err as Error).message}`,
    );
  }
  connection.on('error', () => undefined);
  const channel = await connection.createConfirmChannel();
  const props = (connection.connection as unknown as { serverProperties?: Record<string, unknown> }).serverProperties;
  const version = props?.version ? String(props.version) : '';
  return new RabbitSystem(
    `RabbitMQ ${version} quorum queues (replicas = broker's members; 1 on this single-node broker), persistent + publisher confirms; amqplib client`,
    connection,
    channel,
  );
}
