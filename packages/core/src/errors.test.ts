import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as errors from './errors.js';
import {
  catalogue,
  fromWireError,
  RemoteError,
  SvcError,
  toWireError,
  RpcTimeoutError,
} from './errors.js';

describe('the error catalogue', () => {
  it('lists every exported SvcError class but RemoteError, each with a distinct SVC_ERR_ code', () => {
    const classes = Object.values(errors).filter(
      (v): v is typeof SvcError =>
        typeof v === 'function' && v.prototype instanceof SvcError && v !== RemoteError,
    );
    expect(new Set(classes.map((c) => c.code)).size).toBe(classes.length);
    for (const cls of classes) {
      expect(cls.code).toMatch(/^SVC_ERR_[A-Z_]+$/);
      expect(catalogue.get(cls.code)).toBe(cls);
    }
  });

  it('is documented: every code has a row of docs/errors.md with its class', () => {
    const doc = readFileSync(
      fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)),
      'utf8',
    );
    const rows = doc.split('\n').filter((line) => line.startsWith('|'));
    for (const [code, cls] of [...catalogue, [RemoteError.code, RemoteError] as const]) {
      expect(rows.find((row) => row.includes(`\`${code}\``))).toContain(`\`${cls.name}\``);
    }
  });

  it('rebuilds catalogued codes as their class and wraps the rest in RemoteError', () => {
    const timeout = fromWireError(toWireError(new RpcTimeoutError('slow')));
    expect(timeout).toBeInstanceOf(RpcTimeoutError);
    expect(timeout.message).toBe('slow');
    const remote = fromWireError(toWireError(new RangeError('out')));
    expect(remote).toBeInstanceOf(RemoteError);
    expect(remote).toMatchObject({
      remoteType: 'RangeError',
      remoteMessage: 'out',
      remoteCode: 'SVC_ERR_REMOTE',
    });
    expect(fromWireError('garbage')).toBeInstanceOf(RemoteError);
    expect(fromWireError(null).message).toBe('Error: null');
  });
});
