import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as errors from './errors.js';
import { HttpError } from './http/types.js';
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

describe('what an error class says about its errors', () => {
  const flags = (err: SvcError) => ({
    expected: err.expected,
    userMistake: err.userMistake,
    retryable: err.retryable,
    httpStatus: err.httpStatus,
  });

  it('marks bad calls as expected mistakes, config and usage as mistakes, a refusal as retryable', () => {
    const all = { expected: false, userMistake: false, retryable: false, httpStatus: 500 };
    expect(flags(new errors.ValidationError('x'))).toEqual({
      ...all,
      expected: true,
      userMistake: true,
      httpStatus: 400,
    });
    for (const cls of [errors.MethodNotFoundError, errors.IncorrectSignatureError])
      expect(flags(new cls('x'))).toEqual({ ...all, expected: true, userMistake: true });
    for (const cls of [errors.ConfigError, errors.UsageError])
      expect(flags(new cls('x'))).toEqual({ ...all, userMistake: true });
    // An upstream with no live instance is unavailable to an HTTP client (503), even misspelled.
    expect(flags(new errors.UnknownServiceError('x'))).toEqual({
      ...all,
      userMistake: true,
      httpStatus: 503,
    });
    expect(flags(new errors.ContainerStoppedError('x'))).toEqual({
      ...all,
      retryable: true,
      httpStatus: 503,
    });
    for (const cls of [RpcTimeoutError, errors.ConnectionLostError, errors.BackendError])
      expect(flags(new cls('x'))).toEqual(all);
  });

  it('keeps what the class says when the error crosses the wire', () => {
    const rebuilt = fromWireError(toWireError(new errors.ValidationError('bad')));
    expect(rebuilt.userMistake).toBe(true);
    expect(rebuilt.httpStatus).toBe(400);
    expect(fromWireError(toWireError(new RangeError('out'))).expected).toBe(false);
  });

  it('sends an UnknownServiceError as its code, type and message only: its service stays here', () => {
    const err = new errors.UnknownServiceError('no live instance of service "Greeting"', {
      service: 'Greeting',
    });
    expect(err.service).toBe('Greeting');
    expect(toWireError(err)).toEqual({
      code: 'SVC_ERR_UNKNOWN_SERVICE',
      type: 'UnknownServiceError',
      message: 'no live instance of service "Greeting"',
    });
    const rebuilt = fromWireError(toWireError(err));
    expect(rebuilt).toBeInstanceOf(errors.UnknownServiceError);
    expect((rebuilt as errors.UnknownServiceError).service).toBeUndefined();
    expect(rebuilt.httpStatus).toBe(503);
  });

  it("lets a user's error class say it too", () => {
    class NotFound extends SvcError {
      static override code = 'USERS_NOT_FOUND';
      static override expected = true;
      static override httpStatus = 404;
    }
    expect(flags(new NotFound('no user 7'))).toEqual({
      expected: true,
      userMistake: false,
      retryable: false,
      httpStatus: 404,
    });
  });

  it("takes an `expected` set on one error as that error's own, as test runners set it", () => {
    const one = new RpcTimeoutError('slow');
    one.expected = true;
    expect(one.expected).toBe(true);
    expect(new RpcTimeoutError('slow').expected).toBe(false);
    const notFound = new HttpError(404, 'no such user');
    expect(notFound.expected).toBe(true);
    notFound.expected = false;
    expect(notFound.expected).toBe(false);
    expect(Object.keys(notFound)).not.toContain('expected');
  });

  it('names every code of the catalogue in ErrorCode', () => {
    const codes = new Set<string>(Object.values(errors.ErrorCode));
    for (const code of [...catalogue.keys(), RemoteError.code, SvcError.code])
      expect(codes).toContain(code);
  });
});
