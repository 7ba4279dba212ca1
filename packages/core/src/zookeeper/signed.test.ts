import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InstanceRecord } from '../registry/registry.js';
import { recordKey, signRecord, verifyRecord } from './signed.js';

const key = recordKey(randomBytes(32));
const record: InstanceRecord = {
  id: 'ab12',
  service: 'Greeting',
  host: 'h',
  pid: 42,
  startedAt: 1,
  endpoints: { rpc: 'tcp://127.0.0.1:1' },
  subscriptions: [{ type: 'greeted', mode: 'pool', handler: 'on' }],
  metadata: { note: 'ünïcode ✓' },
};

describe('signed ZooKeeper records', () => {
  it('reads back a record it signed, unicode included', () => {
    expect(verifyRecord(key, signRecord(key, record), 'Greeting', 'ab12')).toEqual({ record });
  });

  it('refuses a record changed after signing, or signed under another key', () => {
    const data = signRecord(key, record).toString().replace('"pid":42', '"pid":43');
    expect(verifyRecord(key, Buffer.from(data), 'Greeting', 'ab12')).toHaveProperty('problem');
    const other = recordKey(randomBytes(32));
    expect(verifyRecord(other, signRecord(key, record), 'Greeting', 'ab12')).toHaveProperty(
      'problem',
    );
  });

  it('refuses a signed record found under another node', () => {
    expect(verifyRecord(key, signRecord(key, record), 'Greeting', 'cd34')).toHaveProperty(
      'problem',
    );
  });

  it('accepts a validly signed record laid out otherwise (the signature first)', () => {
    const sig = createHmac('sha256', key).update(JSON.stringify(record)).digest('hex');
    const data = Buffer.from(JSON.stringify({ sig, ...record }));
    expect(verifyRecord(key, data, 'Greeting', 'ab12')).toEqual({ record });
  });

  it('refuses data that only ends like a signed record', () => {
    const sig = createHmac('sha256', key).update('{}').digest('hex');
    expect(verifyRecord(key, Buffer.from(`x,"sig":"${sig}"}`), 'Greeting', 'ab12')).toEqual({
      problem: 'holds no instance record',
    });
  });
});
