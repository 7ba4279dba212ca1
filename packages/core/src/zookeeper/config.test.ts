import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { decodeRecord, isNodeName, parseZooKeeperUrl } from './config.js';

describe('parseZooKeeperUrl', () => {
  it('reads hosts, root and options', () => {
    expect(
      parseZooKeeperUrl(
        'zookeeper://zk1:2181,zk2:2182/prod/svc?sessionTimeout=5000&timeout=2000&connectTimeout=3000',
      ),
    ).toEqual({
      connectString: 'zk1:2181,zk2:2182',
      root: '/prod/svc',
      sessionTimeoutMs: 5000,
      timeoutMs: 2000,
      connectTimeoutMs: 3000,
    });
  });

  it('defaults the port to 2181 and the root to /svc', () => {
    const c = parseZooKeeperUrl('zookeeper://127.0.0.1');
    expect(c.connectString).toBe('127.0.0.1:2181');
    expect(c.root).toBe('/svc');
    expect(parseZooKeeperUrl('zookeeper://h:1/').root).toBe('/svc');
    expect(parseZooKeeperUrl('zookeeper://h:1/a/').root).toBe('/a');
  });

  it('rejects what is not a ZooKeeper URL with a ConfigError', () => {
    for (const bad of [
      'zookeeper://',
      'zookeeper://h:0/svc',
      'zookeeper://h:70000/svc',
      'zookeeper://h:1,/svc',
      'zookeeper://h:1/a/../b',
      'zookeeper://h:1/svc?timeout=-1',
      'zookeeper://h:1/svc?unknown=1',
      'zk://h:1/svc',
    ]) {
      expect(() => parseZooKeeperUrl(bad), bad).toThrow(ConfigError);
    }
  });
});

describe('isNodeName', () => {
  it('accepts service names and hex ids, refuses what could climb or break a path', () => {
    expect(isNodeName('Greeting')).toBe(true);
    expect(isNodeName('0123abcd')).toBe(true);
    for (const bad of ['', '.', '..', 'a/b', 'a\u0000b', 'x'.repeat(256)]) {
      expect(isNodeName(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('decodeRecord', () => {
  const record = {
    id: 'ab12',
    service: 'Greeting',
    host: 'h',
    pid: 1,
    startedAt: 2,
    endpoints: { rpc: 'tcp://127.0.0.1:1' },
    subscriptions: [{ type: 'greeted', mode: 'pool', handler: 'on' }],
  };
  const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

  it('decodes a record stored under its own service and id', () => {
    expect(decodeRecord(bytes(record), 'Greeting', 'ab12')).toEqual(record);
  });

  it('returns undefined for anything else, never throwing', () => {
    const cases: [string, Buffer | undefined][] = [
      ['no data', undefined],
      ['empty', Buffer.alloc(0)],
      ['bad json', bytes('{"id":')],
      ['binary', Buffer.from([0xff, 0x00, 0x81])],
      ['array', bytes([record])],
      ['null', bytes('null')],
      ['other id', bytes({ ...record, id: 'other' })],
      ['other service', bytes({ ...record, service: 'Other' })],
      ['endpoints not strings', bytes({ ...record, endpoints: { rpc: 1 } })],
      ['bad subscription', bytes({ ...record, subscriptions: [{ type: 'x', mode: 'all' }] })],
      ['pid not a number', bytes({ ...record, pid: '1' })],
    ];
    for (const [name, data] of cases) {
      expect(decodeRecord(data, 'Greeting', 'ab12'), name).toBeUndefined();
    }
  });

  it('drops __proto__ keys', () => {
    const text = JSON.stringify(record).replace('{', '{"__proto__":{"polluted":true},');
    const decoded = decodeRecord(bytes(text), 'Greeting', 'ab12');
    expect(decoded).toEqual(record);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });
});

describe('ZooKeeper digest credentials', () => {
  it('are read from the URL, and never shown in its errors', () => {
    expect(parseZooKeeperUrl('zookeeper://svc:p%40ss@zk1:2181/svc').digest).toBe('svc:p@ss');
    expect(parseZooKeeperUrl('zookeeper://zk1:2181/svc').digest).toBeUndefined();
    expect(() => parseZooKeeperUrl('zookeeper://svc:secret-pw@zk1:99999/svc')).toThrow(
      /^(?!.*secret-pw).*zookeeper:\/\/\*\*\*@zk1:99999/,
    );
    expect(() => parseZooKeeperUrl('zookeeper://justuser@zk1/svc')).toThrow(/user:password@/);
  });
});
