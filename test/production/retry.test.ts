// A failing handler on RabbitMQ: retried by its policy, then dead-lettered where a user can
// inspect it, never redelivered in a loop.
import { connect as amqpConnect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TestEnv, requireBuild, type Proc } from '../support/svc.js';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672/';
const QUEUE = 'evt-*-doomed--Echo.onDoomed';
const env = new TestEnv();
let echo: Proc;

beforeAll(async () => {
  requireBuild();
  echo = await env.instance('echo.yml', { cwd: `${FIXTURES}/echo`, env: { SVC_EVENTS: AMQP } });
}, 60_000);

afterAll(async () => {
  await env.stop();
  const conn = await amqpConnect(AMQP);
  const ch = await conn.createChannel();
  for (const q of [QUEUE, `${QUEUE}.dead`, 'evt-*-ping--Echo.onPing']) await ch.deleteQueue(q);
  await conn.close();
});

describe('a handler that keeps failing on RabbitMQ', () => {
  it('is tried as its retry policy says, then its event lands in the dead-letter queue once', async () => {
    const { code } = await env.run(['emit', 'doomed', '{"n": 7}'], { env: { SVC_EVENTS: AMQP } });
    expect(code).toBe(0);
    const tries = () => echo.logs().filter((l) => l.msg === 'doomed 7').length;
    await expect
      .poll(() => echo.logs().some((l) => l.msg.startsWith('giving up on event doomed')), {
        timeout: 15_000,
      })
      .toBe(true);
    expect(tries()).toBe(3);

    const conn = await amqpConnect(AMQP);
    try {
      const ch = await conn.createChannel();
      const dead = await ch.get(`${QUEUE}.dead`, { noAck: true });
      expect(dead && JSON.parse(dead.content.toString())).toEqual({ n: 7 });
      expect((await ch.checkQueue(QUEUE)).messageCount).toBe(0);
    } finally {
      await conn.close();
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(tries()).toBe(3);
  });
});
