import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { ChannelSlot } from './channel.js';
import { type DeclareCache, publishConfirmed } from './publish.js';

/** Name of the queue that keeps what `queue` gave up on. */
export function deadQueueName(queue: string): string {
  return `${queue}.dead`;
}

/** The publish options that copy a received message's properties. */
export function copyProperties(msg: ConsumeMessage): Options.Publish {
  const p = msg.properties;
  const out: Options.Publish = { deliveryMode: 2 };
  if (p.contentType !== undefined) out.contentType = p.contentType as string;
  if (p.contentEncoding !== undefined) out.contentEncoding = p.contentEncoding as string;
  if (p.correlationId !== undefined) out.correlationId = p.correlationId as string;
  if (p.replyTo !== undefined) out.replyTo = p.replyTo as string;
  if (p.messageId !== undefined) out.messageId = p.messageId as string;
  if (p.type !== undefined) out.type = p.type as string;
  if (p.appId !== undefined) out.appId = p.appId as string;
  if (p.priority !== undefined) out.priority = p.priority as number;
  return out;
}

/**
 * Moves a message the consumer of `queue` gave up on (its handler failed
 * for good, or it could not be decoded) into `<queue>.dead`, a durable
 * queue a person can inspect and replay; the headers say why and where it
 * came from. The copy is made by publishing (confirmed) rather than with a
 * broker dead-letter exchange, because Nameko declares the shared queues
 * without arguments and a queue's arguments cannot differ between
 * declarers. Resolves once the broker has the copy; the caller acks then.
 */
export async function deadLetter(
  slot: ChannelSlot<ConfirmChannel>,
  declares: DeclareCache,
  waitMs: number,
  queue: string,
  msg: ConsumeMessage,
  reason: string,
): Promise<void> {
  const dead = deadQueueName(queue);
  const headers = {
    ...(msg.properties.headers ?? {}),
    'x-svc-dead-reason': reason.slice(0, 1000),
    'x-svc-dead-queue': queue,
    'x-svc-dead-exchange': msg.fields.exchange,
    'x-svc-dead-routing-key': msg.fields.routingKey,
  };
  await publishConfirmed(
    slot,
    waitMs,
    {
      exchange: '',
      routingKey: dead,
      content: msg.content,
      options: { ...copyProperties(msg), headers },
    },
    (ch) => declares.once(ch, `queue:${dead}`, () => ch.assertQueue(dead, { durable: true })),
  );
}
