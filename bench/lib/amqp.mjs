// Where the AMQP baselines find RabbitMQ (BENCH_AMQP_URL overrides).
import { randomBytes } from 'node:crypto';

export const amqpUrl = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const uniqueName = (prefix) => `${prefix}-${randomBytes(4).toString('hex')}`;
