import type { Channel, ChannelModel } from 'amqplib';
import { afterAll, beforeAll } from 'vitest';
import { Cleanup, rawConnection } from './helpers.js';

// Apart from helpers.ts, which the fixture processes import outside vitest.

/** A transport whose queues and exchanges are removed after the test file. */
interface Declaring {
  close(): Promise<void>;
  declared(): { queues?: Iterable<string>; exchanges?: Iterable<string> };
}

/**
 * For a test file: a raw connection and channel (opened before its tests,
 * with `setup` run on the channel), the transports it makes (closed after),
 * and everything they and the file declared (deleted after, even when a
 * close fails).
 */
export function useRawBroker(setup?: (ch: Channel) => Promise<unknown>): {
  readonly conn: ChannelModel;
  readonly ch: Channel;
  readonly cleanup: Cleanup;
  track<T extends Declaring>(transport: T): T;
} {
  const cleanup = new Cleanup();
  const transports: Declaring[] = [];
  let raw: { conn: ChannelModel; ch: Channel } | undefined;
  beforeAll(async () => {
    raw = await rawConnection();
    await setup?.(raw.ch);
  });
  afterAll(async () => {
    await Promise.allSettled(transports.map((t) => t.close()));
    for (const t of transports) cleanup.add(t.declared());
    await raw?.conn.close().catch(() => {});
    await cleanup.run();
  });
  const opened = () => {
    if (!raw) throw new Error('the raw broker connection opens in beforeAll');
    return raw;
  };
  return {
    get conn() {
      return opened().conn;
    },
    get ch() {
      return opened().ch;
    },
    cleanup,
    track(transport) {
      transports.push(transport);
      return transport;
    },
  };
}
