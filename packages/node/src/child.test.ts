import { afterEach, describe, expect, it } from 'vitest';
import { childEnv } from './child.js';
import { parseCommand } from './command.js';
import type { InstanceConfig } from './config.js';

const instance = (env: Record<string, string> = {}): InstanceConfig => ({
  name: 'Greeting',
  command: 'svc instance',
  parsed: parseCommand('svc instance'),
  numprocesses: 3,
  env,
  cwd: '/',
});

describe('childEnv', () => {
  afterEach(() => {
    delete process.env['SVC_METRICS_PORT'];
  });

  it("does not pass the supervisor's SVC_METRICS_PORT on: several processes cannot share one port", () => {
    process.env['SVC_METRICS_PORT'] = '9464';
    const env = childEnv({ instance: instance(), index: 0, cluster: 'c', socket: undefined });
    expect(env['SVC_METRICS_PORT']).toBeUndefined();
    expect(env['SVC_INSTANCE_INDEX']).toBe('0');
  });

  it("keeps an SVC_METRICS_PORT the instance's env: gives", () => {
    process.env['SVC_METRICS_PORT'] = '9464';
    const env = childEnv({
      instance: instance({ SVC_METRICS_PORT: '9500' }),
      index: 0,
      cluster: 'c',
      socket: undefined,
    });
    expect(env['SVC_METRICS_PORT']).toBe('9500');
  });
});
