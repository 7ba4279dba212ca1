import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveAdvertise, withHost } from '../advertise.js';
import { ConfigError } from '../errors.js';
import { loadInstanceConfig } from './instance.js';

const dir = mkdtempSync(join(tmpdir(), 'svc-hosts-config-'));
let n = 0;
function file(text: string): string {
  const path = join(dir, `c${n++}.yml`);
  writeFileSync(path, `${text}interfaces:\n  A:\n    class: ./a.ts#A\n`);
  return path;
}

describe('bind and advertise addresses', () => {
  it('binds and publishes 127.0.0.1 by default', () => {
    const cfg = loadInstanceConfig(file(''), {});
    expect([cfg.bindHost, cfg.advertiseHost, cfg.http.host, cfg.http.advertise]).toEqual([
      '127.0.0.1',
      '127.0.0.1',
      '127.0.0.1',
      undefined,
    ]);
    expect(cfg.rpcTls).toBe(false);
  });

  it('publishes the bound address when it is a real one', () => {
    const cfg = loadInstanceConfig(file('bind_host: 10.231.0.2\n'), {});
    expect(cfg.advertiseHost).toBe('10.231.0.2');
  });

  it('refuses a wildcard bind without an address to publish, naming the setting', () => {
    expect(() => loadInstanceConfig(file('bind_host: 0.0.0.0\n'), {})).toThrow(
      /c\d+\.yml: bind_host \(SVC_BIND_HOST\) is "0\.0\.0\.0" \(every interface\): set advertise_host/,
    );
    expect(() =>
      loadInstanceConfig(file('bind_host: 0.0.0.0\nadvertise_host: "::"\n'), {}),
    ).toThrow(ConfigError);
  });

  it('lets the environment override the file, so one file serves every host', () => {
    const cfg = loadInstanceConfig(
      file(
        'bind_host: 127.0.0.1\nadvertise_host: 10.0.0.9\nrpc_tls: false\nhttp:\n  host: 127.0.0.1\n',
      ),
      {
        SVC_BIND_HOST: '0.0.0.0',
        SVC_ADVERTISE_HOST: '10.231.0.3',
        SVC_HTTP_HOST: '0.0.0.0',
        SVC_RPC_TLS: '1',
      },
    );
    expect(cfg.bindHost).toBe('0.0.0.0');
    expect(cfg.advertiseHost).toBe('10.231.0.3');
    // A wildcard HTTP bind publishes the host's advertised address.
    expect(cfg.http).toMatchObject({ host: '0.0.0.0', advertise: '10.231.0.3' });
    expect(cfg.rpcTls).toBe(true);
  });

  it('reads http.advertise and rpc_tls from the file', () => {
    const cfg = loadInstanceConfig(
      file(
        'rpc_tls: true\nsecurity:\n  secret: s3cret-s3cret-s3cret\nhttp:\n  host: 0.0.0.0\n  advertise: web.example\n',
      ),
      {},
    );
    expect(cfg).toMatchObject({ rpcTls: true, security: { secret: 's3cret-s3cret-s3cret' } });
    expect(cfg.http.advertise).toBe('web.example');
  });

  it('reaches same-host peers by unix socket unless rpc_unix or SVC_RPC_UNIX says not', () => {
    expect(loadInstanceConfig(file(''), {}).rpcUnix).toBe(true);
    expect(loadInstanceConfig(file('rpc_unix: false\n'), {}).rpcUnix).toBe(false);
    expect(loadInstanceConfig(file('rpc_unix: false\n'), { SVC_RPC_UNIX: '1' }).rpcUnix).toBe(true);
    expect(loadInstanceConfig(file(''), { SVC_RPC_UNIX: '0' }).rpcUnix).toBe(false);
    expect(() => loadInstanceConfig(file(''), { SVC_RPC_UNIX: 'off' })).toThrow(
      /rpc_unix \(SVC_RPC_UNIX\): expected 1, 0, true or false/,
    );
    expect(() => loadInstanceConfig(file('rpc_unix: maybe\n'), {})).toThrow(ConfigError);
  });

  it('rejects a TLS switch it cannot read', () => {
    expect(() => loadInstanceConfig(file(''), { SVC_RPC_TLS: 'yes' })).toThrow(
      /rpc_tls \(SVC_RPC_TLS\): expected 1, 0, true or false/,
    );
    expect(() => loadInstanceConfig(file('security:\n  key: x\n'), {})).toThrow(ConfigError);
    expect(() => loadInstanceConfig(file('rpc: zmq\nrpc_tls: true\n'), {})).toThrow(
      /rpc_tls \(SVC_RPC_TLS\): expected false with rpc "zmq" \(TLS is for rpc: net\)/,
    );
  });
});

describe('withHost and resolveAdvertise', () => {
  it('replaces the host of an endpoint, bracketing IPv6', () => {
    expect(withHost('tcp://0.0.0.0:4000', '10.0.0.5')).toBe('tcp://10.0.0.5:4000');
    expect(withHost('tls://[::]:4000', 'fd00::5')).toBe('tls://[fd00::5]:4000');
    expect(withHost('http://0.0.0.0:80', 'web.example')).toBe('http://web.example:80');
  });

  it('keeps an explicit address and the bound one otherwise', () => {
    expect(resolveAdvertise('0.0.0.0', '10.0.0.5')).toBe('10.0.0.5');
    expect(resolveAdvertise('10.0.0.5', undefined)).toBe('10.0.0.5');
    expect(() => resolveAdvertise('::', undefined)).toThrow(ConfigError);
  });
});
