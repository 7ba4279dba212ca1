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
