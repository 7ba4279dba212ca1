// A Redis server for the examples' tests: the machine's own on 127.0.0.1:6379
// when it answers, else a private redis-server on a free port, stopped after.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface TestRedis extends AsyncDisposable {
  port: number;
  /** a key prefix no other test run uses */
  prefix: string;
  /** a client for checking what the services wrote (no key prefix) */
  client: Redis;
  stop(): Promise<void>;
}

async function answers(port: number): Promise<boolean> {
  const probe = new Redis({
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function startServer(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) =>
      reject(
        new Error(
          `Redis is not running on 127.0.0.1:6379 and redis-server could not start: ${err.message}`,
        ),
      ),
    );
    child.once('exit', (code) =>
      reject(new Error(`redis-server exited with ${code} on port ${port}`)),
    );
  });
  failed.catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([answers(port), failed]))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, child };
}

/** Redis for one test file; `stop()` deletes the keys under `prefix` and stops a server it started. */
export async function testRedis(): Promise<TestRedis> {
  let port = 6379;
  let child: ChildProcess | undefined;
  if (!(await answers(port))) ({ port, child } = await startServer());
  const client = new Redis({ port, maxRetriesPerRequest: 1 });
  const prefix = `svc-test:${randomBytes(4).toString('hex')}:`;
  const stop = async () => {
    try {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      await client.quit();
    } finally {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
  };
  return { port, prefix, client, stop, [Symbol.asyncDispose]: stop };
}
