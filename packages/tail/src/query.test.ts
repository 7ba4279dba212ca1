import { DEFAULT_LIMITS, Instance, type LogRecord } from '@svc/core';
import { MemoryHub, testConfig } from '@svc/core/testing';
import { describe, expect, it } from 'vitest';
import { queryLogStream } from './query.js';
import { createLogStream } from './stream.js';
import { Greeting } from './tour.fixture.js';

describe('queryLogStream', () => {
  it('reads the full rings of three instances (30 MB reply lines over TLS) whole, all at once', async () => {
    // As `svc tail --trace` asks every instance for its history. A reply comes in thousands of
    // chunks (TLS records are 16 KB): its end was looked for in the whole line received so far
    // after each, which copied all of it every time (17 s of the reader's thread a reply).
    const limits = { ...DEFAULT_LIMITS, logRingBytes: 32 * 1024 * 1024, maxFrameBytes: 64 << 20 };
    const hub = new MemoryHub();
    const instances: Instance[] = [];
    try {
      for (let n = 0; n < 3; n++) {
        const logs = createLogStream();
        const instance = new Instance({
          config: testConfig([Greeting], { limits, rpcTls: true, log: { level: 'info' } }),
          backends: hub.connect(),
          classes: { Greeting },
          sinks: [logs],
          extensions: [logs],
        });
        instances.push(instance);
        await instance.start();
      }
      const filler = 'x'.repeat(15_000);
      for (const [n, instance] of instances.entries())
        for (let i = 0; i < 2000; i++) instance.log.info(`record ${n}/${i} ${filler}`);
      const replies = (await Promise.all(
        instances.map((instance) =>
          queryLogStream(instance.auth, instance.endpoints['logs']!, 'recent_logs', {}, 60_000),
        ),
      )) as LogRecord[][];
      for (const [n, got] of replies.entries()) {
        expect(got).toHaveLength(2000);
        expect(got.every((r, i) => r.msg === `record ${n}/${i} ${filler}`)).toBe(true);
      }
    } finally {
      await Promise.allSettled(instances.map((i) => i.stop({ graceMs: 0 })));
    }
  });
});
