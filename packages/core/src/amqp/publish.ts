import type { ConfirmChannel, Options } from 'amqplib';
import { BackendError } from '../errors.js';
import type { ChannelSlot } from './channel.js';

/** One message to publish. */
export interface Outgoing {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

/** Publishes on `ch`; resolves on the broker's confirm, rejects on nack, channel loss or after `waitMs`. */
function confirm(ch: ConfirmChannel, msg: Outgoing, waitMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // a blocked connection (broker alarm) never confirms: do not wait for ever
    const timer = setTimeout(
      () => reject(new Error(`no confirm from the broker within ${waitMs} ms`)),
      waitMs,
    );
    try {
      ch.publish(msg.exchange, msg.routingKey, msg.content, msg.options, (err) => {
        clearTimeout(timer);
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      });
    } catch (err) {
      clearTimeout(timer);
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/**
 * Publishes `msg` and resolves once the broker confirmed it. During an
 * outage, or when the channel dies before the confirm, it waits for the
 * channel to come back and publishes again (so a message may reach the
 * broker twice, never zero times unnoticed) until `waitMs` has passed;
 * then it rejects with a BackendError. `prepare` runs on the channel
 * first (declarations); it is retried the same way.
 */
export async function publishConfirmed(
  slot: ChannelSlot<ConfirmChannel>,
  waitMs: number,
  msg: Outgoing,
  prepare?: (ch: ConfirmChannel) => Promise<void>,
): Promise<ConfirmChannel> {
  const deadline = Date.now() + waitMs;
  let lastError: Error | undefined;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new BackendError(
        `RabbitMQ did not confirm a message to "${msg.exchange}" (key "${msg.routingKey}") within ${waitMs} ms${lastError ? `: ${lastError.message}` : ''}`,
        { cause: lastError },
      );
    }
    let ch: ConfirmChannel;
    try {
      ch = await slot.get(left);
    } catch (err) {
      if (err instanceof BackendError) throw err;
      throw new BackendError((err as Error).message, { cause: err });
    }
    try {
      if (prepare) await prepare(ch);
      await confirm(ch, msg, Math.max(1, deadline - Date.now()));
      return ch;
    } catch (err) {
      lastError = err as Error;
      slot.invalidate(ch);
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
    }
  }
}

/**
 * Runs a declaration once per channel: names already declared (or being
 * declared) on `ch` are skipped, a new channel (after a reconnect)
 * declares again; a failed declaration may be tried again.
 */
export class DeclareCache {
  readonly #done = new WeakMap<object, Map<string, Promise<unknown>>>();

  async once(ch: object, key: string, declare: () => Promise<unknown>): Promise<void> {
    let map = this.#done.get(ch);
    if (!map) {
      map = new Map();
      this.#done.set(ch, map);
    }
    let p = map.get(key);
    if (!p) {
      p = declare();
      map.set(key, p);
      const m = map;
      p.catch(() => m.delete(key));
    }
    await p;
  }
}
