import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../log/logger.js';
import type { ChannelSlot } from './channel.js';
import { deadLetter } from './dead-letter.js';
import type { DeclareCache } from './publish.js';
import { receivedTraceId } from './headers.js';
import { IdTable } from '../rpc/id-table.js';

/** Acks and nacks on a channel that died meanwhile fail; the broker redelivers then. */
export function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // the channel is gone: the broker requeues the unacked message itself
  }
}

/**
 * The messages a consumer is working on, so that closing can let them
 * finish (and ack) for a while before the channel goes; whatever is still
 * running then is redelivered by the broker.
 */
export class InflightWork {
  // By a count, in an IdTable rather than a Set: see rpc/id-table.ts.
  readonly #jobs = new IdTable<Promise<void>>();
  #count = 0;

  get size(): number {
    return this.#jobs.size;
  }

  track(job: Promise<void>): void {
    const id = (this.#count = (this.#count + 1) % 0x7fffffff);
    this.#jobs.set(id, job);
    void job.finally(() => this.#jobs.delete(id));
  }

  /** Resolves when every job has settled, or after `ms`, whichever comes first. */
  async drain(ms: number): Promise<void> {
    if (this.#jobs.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#jobs.values()]),
      new Promise((r) => {
        timer = setTimeout(r, ms);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** What an AMQP transport's readiness says while a consumer it should have is not consuming. */
export const CONSUMERS_NOT_RESTORED = 'RabbitMQ consumers not yet restored';

/**
 * Readiness of a transport's consumers: undefined when every one of
 * `expected` was started on `current` (the channel now in use, which a
 * slot makes current only once its set-up has finished), else
 * {@link CONSUMERS_NOT_RESTORED}. After a reconnect the connection is back
 * before the channel is re-opened and the queues are consumed again; a
 * consumer missing (`undefined`) or left on an older channel is not back.
 */
export function consumersUnavailable(
  current: Channel | undefined,
  expected: ReadonlyArray<{ channel: Channel } | undefined>,
): string | undefined {
  if (expected.length === 0) return undefined;
  if (current !== undefined && expected.every((c) => c?.channel === current)) return undefined;
  return CONSUMERS_NOT_RESTORED;
}

/** What copies given-up messages into `<queue>.dead`: a transport's confirmed publisher. */
export interface DeadLetterPublisher {
  slot: ChannelSlot<ConfirmChannel>;
  declares: DeclareCache;
  waitMs: number;
  log: Logger;
}

/**
 * Moves a message its consumer gave up on into `<queue>.dead` and acks it;
 * when the copy cannot be made, gives the message back to the broker after
 * a pause (a broker that refuses the copy must not be hammered).
 */
export async function buryOrRequeue(
  publisher: DeadLetterPublisher,
  ch: Channel,
  queue: string,
  msg: ConsumeMessage,
  reason: string,
  what: string,
): Promise<void> {
  try {
    await deadLetter(publisher.slot, publisher.declares, publisher.waitMs, queue, msg, reason);
    safely(() => ch.ack(msg));
  } catch (err) {
    const traceId = receivedTraceId(msg.properties.headers);
    publisher.log.error(`cannot dead-letter ${what}; the broker will deliver it again`, {
      queue,
      ...(traceId === undefined ? {} : { traceId }),
      error: (err as Error).message,
    });
    await new Promise((r) => setTimeout(r, 1000));
    safely(() => ch.nack(msg, false, true));
  }
}
