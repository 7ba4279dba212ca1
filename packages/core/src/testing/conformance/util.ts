import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { InstanceRecord } from '../../registry/registry.js';

/** A name no other test run uses, so durable leftovers (AMQP queues, ZooKeeper nodes) never interfere. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function makeRecord(
  service: string,
  overrides: Partial<InstanceRecord> = {},
): InstanceRecord {
  return {
    id: randomBytes(8).toString('hex'),
    service,
    host: hostname(),
    pid: process.pid,
    startedAt: Date.now(),
    endpoints: {},
    subscriptions: [],
    ...overrides,
  };
}

/**
 * Makes what a suite's tests create and closes it all after each test, in
 * stages: every `close` of one stage (transports) settles before the next
 * (registries), and a failing close never hides the others.
 */
export function closedAfterEach<T>(
  afterEach: (fn: () => Promise<void>) => void,
  create: () => Promise<T>,
  ...stages: Array<(made: T) => Promise<void> | undefined>
): () => Promise<T> {
  const made: T[] = [];
  afterEach(async () => {
    const all = made.splice(0);
    for (const close of stages)
      await Promise.allSettled(all.map((m) => close(m) ?? Promise.resolve()));
  });
  return async () => {
    const m = await create();
    made.push(m);
    return m;
  };
}
