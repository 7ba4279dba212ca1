import { describe, expect, it } from 'vitest';
import { fromWireError, MethodNotFoundError, RemoteError } from '../errors.js';
import { fromNamekoError, toNamekoError } from './errors.js';

describe("Nameko's error dict", () => {
  it('maps the observed Nameko errors to svc wire errors', () => {
    expect(
      fromNamekoError({
        exc_type: 'ValueError',
        exc_path: 'builtins.ValueError',
        exc_args: ['boom'],
        value: 'boom',
      }),
    ).toEqual({ code: 'SVC_ERR_REMOTE', type: 'ValueError', message: 'boom' });
    const notFound = fromNamekoError({
      exc_type: 'MethodNotFound',
      exc_path: 'nameko.exceptions.MethodNotFound',
      exc_args: ['nope'],
      value: 'nope',
    });
    expect(notFound.code).toBe('SVC_ERR_METHOD_NOT_FOUND');
    expect(fromWireError(notFound)).toBeInstanceOf(MethodNotFoundError);
    const remote = fromWireError(fromNamekoError({ exc_type: 'KeyError', exc_args: ['k'] }));
    expect(remote).toBeInstanceOf(RemoteError);
    expect((remote as RemoteError).remoteType).toBe('KeyError');
    expect(remote.message).toBe('KeyError: k');
    expect(fromNamekoError('weird')).toEqual({
      code: 'SVC_ERR_REMOTE',
      type: 'Error',
      message: 'weird',
    });
  });

  it("writes Nameko's classes for its three catalogue codes and keeps svc's code and data", () => {
    expect(
      toNamekoError({
        code: 'SVC_ERR_MALFORMED_REQUEST',
        type: 'MalformedRequestError',
        message: 'm',
      }),
    ).toEqual({
      exc_type: 'MalformedRequest',
      exc_path: 'nameko.exceptions.MalformedRequest',
      exc_args: ['m'],
      value: 'm',
      svc_code: 'SVC_ERR_MALFORMED_REQUEST',
    });
    const wire = { code: 'APP_NOPE', type: 'NotFound', message: 'no such user', data: { id: 7 } };
    const dict = toNamekoError(wire);
    expect(dict).toMatchObject({
      exc_type: 'NotFound',
      exc_args: ['no such user'],
      value: 'no such user',
    });
    expect(fromNamekoError(JSON.parse(JSON.stringify(dict)))).toEqual(wire);
  });
});
