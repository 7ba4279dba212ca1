import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AMQP_URL } from './amqp/helpers.js';

const churn = fileURLToPath(new URL('./fixtures/gc-churn.mjs', import.meta.url));

/** Bytes V8's young-generation collections moved to the old generation, from --trace-gc-nvp. */
function promotedBytes(trace: string): { bytes: number; scavenges: number } {
  let bytes = 0;
  let scavenges = 0;
  for (const line of trace.split('\n')) {
    if (!line.includes(' gc=s ')) continue;
    const m = / promoted=(\d+) /.exec(line);
    if (!m) continue;
    bytes += Number(m[1]);
    scavenges++;
  }
  return { bytes, scavenges };
}

/** Runs the churn fixture under --trace-gc-nvp: `calls` calls, 50 in flight, on `url`. */
async function churnCalls(
  calls: number,
  url = 'net',
): Promise<{ bytes: number; scavenges: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--trace-gc-nvp', churn, String(calls), '50', url],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  expect(stdout).toContain(`{"done":${calls}}`);
  return promotedBytes(stdout);
}

describe('calls in flight and the garbage collector', () => {
  it('a client with 50 calls in flight does not move its finished calls into the old generation', async () => {
    // 100,000 calls over `net` in one process. When the calls waiting for an answer were kept
    // in a Map, V8's replaced hash tables chained every finished call into the old generation:
    // about 400 bytes a call were promoted, collected only by full collections.
    const calls = 100_000;
    const { bytes, scavenges } = await churnCalls(calls);
    expect(scavenges).toBeGreaterThan(10);
    // What start-up promotes (modules, the server, the connection) is most of what is left.
    expect(bytes / calls).toBeLessThan(150);
  });

  it('nor does the AMQP client, whose correlation ids name its calls by number', async () => {
    // With a Map of correlation ids: 780-880 bytes a call on Node 20, 22 and 24; by number,
    // 440-520, nearly all of it amqplib's publishes waiting for the broker's confirms.
    const calls = 30_000;
    const { bytes, scavenges } = await churnCalls(calls, AMQP_URL);
    expect(scavenges).toBeGreaterThan(10);
    expect(bytes / calls).toBeLessThan(675);
  });
});
