import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, expect, it } from 'vitest';
import { type EventMessage } from '@svc/core';
import { AmqpEventTransport, AmqpRpcTransport } from '@svc/core/amqp';
import { eventually, uniqueName } from '@svc/core/testing/conformance';
import { AMQP_URL, Cleanup, MemoryLogger } from './helpers.js';

const cleanup = new Cleanup();
const transports: Array<AmqpEventTransport | AmqpRpcTransport> = [];
const children: ChildProcess[] = [];
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

afterAll(async () => {
  // clean up even when a close fails
  await Promise.allSettled(transports.map((t) => t.close()));
  for (const t of transports) cleanup.add(t.declared());
  await cleanup.run();
});

/** Starts the fixture process; resolves with what it prints, line by line. */
async function startChild(
  name: string,
  args: string[],
): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', tsxLoader, fixture(name), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ready = await eventually(() => lines.includes('ready') || child.exitCode !== null, 20_000);
  if (!ready || !lines.includes('ready')) {
    throw new Error(`subscriber process did not start: ${stderr}`);
  }
  return { child, lines };
}

it('redelivers to another instance the event whose handler was SIGKILLed mid-run', async () => {
  const service = uniqueName('Listen');
  const source = uniqueName('Src');
  const type = uniqueName('work');
  cleanup.add({
    queues: [`evt-${source}-${type}--${service}.on`, `evt-${source}-${type}--${service}.on.dead`],
    exchanges: [`${source}.events`],
  });
  const { child, lines } = await startChild('hanging-subscriber', [
    AMQP_URL,
    service,
    source,
    type,
  ]);
  const pub = new AmqpEventTransport(AMQP_URL, { log: new MemoryLogger(), drainMs: 200 });
  transports.push(pub);
  await pub.publish({
    id: 'job-1',
    type,
    source,
    body: { job: 1 },
    headers: { traceId: 't', callIdStack: [], data: {} },
  });
  expect(await eventually(() => lines.includes('got {"job":1}'), 10_000)).toBe(true);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;

  const got: EventMessage[] = [];
  const survivor = new AmqpEventTransport(AMQP_URL, { log: new MemoryLogger(), drainMs: 200 });
  transports.push(survivor);
  await survivor.subscribe({ service, handler: 'on', type, source, mode: 'pool' }, async (e) => {
    got.push(e);
  });
  await survivor.start();
  expect(await eventually(() => got.length === 1, 10_000)).toBe(true);
  expect(got[0]).toMatchObject({ id: 'job-1', type, source, body: { job: 1 } });
});

it('gives the request of an RPC server SIGKILLed mid-call to another instance, and the caller its answer', async () => {
  const service = uniqueName('Work');
  cleanup.add({ queues: [`rpc-${service}`, `rpc-${service}.dead`] });
  const { child, lines } = await startChild('hanging-rpc-server', [AMQP_URL, service]);
  const client = new AmqpRpcTransport(AMQP_URL, {
    log: new MemoryLogger(),
    clientName: 'kill_test',
    drainMs: 200,
  });
  transports.push(client);
  const reply = client.call(
    {
      service,
      method: 'crunch',
      params: { n: 1 },
      headers: { traceId: 't', callIdStack: [], data: {} },
    },
    { timeout: 20_000 },
  );
  expect(await eventually(() => lines.includes('got crunch'), 10_000)).toBe(true);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const survivor = new AmqpRpcTransport(AMQP_URL, {
    log: new MemoryLogger(),
    clientName: 'survivor',
    drainMs: 200,
  });
  transports.push(survivor);
  await survivor.listen([service], async (req) => ({
    ok: true,
    result: { by: 'survivor', params: req.params },
  }));
  expect(await reply).toEqual({ ok: true, result: { by: 'survivor', params: { n: 1 } } });
});
