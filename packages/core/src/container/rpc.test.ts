import { describe, expect, it } from 'vitest';
import { rpc } from '../decorators.js';
import {
  RemoteError,
  SvcError,
  ValidationError,
  MethodNotFoundError,
  UnknownServiceError,
} from '../errors.js';
import type { ServiceDescription } from '../inspect.js';
import { t } from '../schema.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { testCluster } from '../testing/index.js';

describe('errors across RPC', () => {
  class NotFound extends SvcError {
    static override code = 'USERS_NOT_FOUND';
  }
  class Users extends Service {
    static override readonly serviceName = 'Users';
    declare [RPC]: 'get';
    @rpc({ params: { id: t.integer(), verbose: t.optional(t.boolean()) }, expected: [NotFound] })
    get({ id }: { id: number }) {
      if (id === 0) throw new NotFound(`no user ${id}`, { data: { id } });
      if (id === 1) throw new TypeError('bad things');
      return { id };
    }
  }

  it('gives the caller a RemoteError with the remote type, message, code and data', async () => {
    await using cluster = await testCluster([Users]);
    const err = await cluster.client.rpc.Users.get({ id: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({
      remoteType: 'NotFound',
      remoteMessage: 'no user 0',
      remoteCode: 'USERS_NOT_FOUND',
      data: { id: 0 },
    });
    const bug = await cluster.client.rpc.Users.get({ id: 1 }).catch((e: unknown) => e);
    expect(bug).toMatchObject({ remoteType: 'TypeError', message: 'TypeError: bad things' });
    expect(
      cluster.logs.find((r) => r.level === 'warn' && r.msg.includes('no user 0')),
    ).toBeDefined();
    expect(
      cluster.logs.find((r) => r.level === 'error' && r.msg.includes('bad things')),
    ).toBeDefined();
  });

  it('rejects invalid parameters with a ValidationError naming each problem', async () => {
    await using cluster = await testCluster([Users]);
    // Untyped, as a dynamic caller (the CLI, a Nameko peer) may send anything.
    const err = await cluster.client
      .call('Users', 'get', { id: 'x', extra: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toBe(
      'invalid parameters for Users.get: id must be an integer, got the string "x"; extra is not a known parameter',
    );
  });

  it('answers an unknown method with MethodNotFoundError and an unknown service with UnknownServiceError', async () => {
    await using cluster = await testCluster([Users]);
    await expect(cluster.client.call('Users', 'nope')).rejects.toBeInstanceOf(MethodNotFoundError);
    await expect(cluster.client.call('Nobody', 'x')).rejects.toBeInstanceOf(UnknownServiceError);
  });

  it('maps positional arguments by declared order, as Nameko peers send them', async () => {
    await using cluster = await testCluster([Users]);
    const c = cluster.container('Users');
    const headers = { traceId: 't', callIdStack: [], data: {} };
    expect(
      await c.handleRpc({ service: 'Users', method: 'get', params: {}, args: [5], headers }),
    ).toEqual({ ok: true, result: { id: 5 } });
    expect(
      await c.handleRpc({
        service: 'Users',
        method: 'get',
        params: {},
        args: [5, true, 3],
        headers,
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'SVC_ERR_INCORRECT_SIGNATURE' },
    });
  });
});

describe('built-in methods', () => {
  class Quiet extends Service {
    static override readonly serviceName = 'Quiet';
    declare [RPC]: 'hush';
    @rpc() hush() {
      this.log.info('shh');
      return 'shh';
    }
  }

  it('answers svc.ping, svc.inspect, svc.status, svc.get_metrics and svc.recent_logs of every service', async () => {
    await using cluster = await testCluster([Quiet]);
    const call = (method: string, params: unknown = {}) =>
      cluster.client.call('Quiet', method, params);
    expect(await call('svc.ping', { payload: { n: 1 } })).toEqual({ n: 1 });
    const description = (await call('svc.inspect')) as ServiceDescription;
    expect(description).toMatchObject({ service: 'Quiet', rpc: [{ name: 'hush' }] });
    expect(description.builtins.map((m) => m.name)).toContain('svc.status');
    await call('hush');
    const instance = cluster.instances[0]!;
    expect(await call('svc.status')).toMatchObject({
      instance: instance.id,
      pid: process.pid,
      state: 'started',
      services: [{ service: 'Quiet', state: 'started', activeWorkers: 0, queuedWorkers: 0 }],
    });
    expect(await call('svc.get_metrics')).toMatchObject({
      instance: instance.id,
      entrypoints: [{ name: 'Quiet.hush', kind: 'rpc', calls: 1, errors: 0 }],
    });
    const logs = (await call('svc.recent_logs', { limit: 500 })) as Array<{ msg: string }>;
    expect(logs.some((r) => r.msg === 'shh')).toBe(true);
  });

  it('answers an unknown built-in with MethodNotFoundError', async () => {
    await using cluster = await testCluster([Quiet]);
    await expect(cluster.client.call('Quiet', 'svc.nope', {})).rejects.toThrow(
      'Quiet has no built-in method "svc.nope"',
    );
  });
});
