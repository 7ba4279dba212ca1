import { describe, expect, it } from 'vitest';
import { maskSecrets } from './mask.js';

describe('maskSecrets', () => {
  it('masks URL passwords and every value under a key that names a secret, and nothing else', () => {
    expect(
      maskSecrets({
        events: 'amqp://guest:hunter2@127.0.0.1:5672/',
        registry: 'zookeeper://127.0.0.1:2181/svc',
        interfaces: {
          Greeting: {
            class: '../services/greeting.ts#Greeting',
            db: { host: 'db', password: 'p4ss', api_key: 'k', auth_token: 't' },
            cluster_secret: 's3cret',
            urls: ['redis://:redispw@cache:6379/0'],
          },
        },
        max_workers: 10,
      }),
    ).toEqual({
      events: 'amqp://guest:***@127.0.0.1:5672/',
      registry: 'zookeeper://127.0.0.1:2181/svc',
      interfaces: {
        Greeting: {
          class: '../services/greeting.ts#Greeting',
          db: { host: 'db', password: '***', api_key: '***', auth_token: '***' },
          cluster_secret: '***',
          urls: ['redis://:***@cache:6379/0'],
        },
      },
      max_workers: 10,
    });
  });
});
