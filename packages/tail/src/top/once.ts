import type { ClusterClient } from '@svc/core';
import { MetricsCollector, type Sample } from './collect.js';

/**
 * Two readings `windowMs` apart, so that rates (calls/s, errors/s) and
 * CPU cover that window: what `svc top --once` prints.
 */
export async function sampleOnce(
  client: ClusterClient,
  options: { services?: readonly string[]; windowMs?: number } = {},
): Promise<Sample> {
  const collector = new MetricsCollector(client, {
    ...(options.services ? { services: options.services } : {}),
  });
  await collector.sample();
  await new Promise((r) => setTimeout(r, options.windowMs ?? 1000));
  return collector.sample();
}
