import { describe, expect, it } from 'vitest';
import { checkRequest, hasToken, newToken } from './guard.js';

const token = newToken();
const port = 4090;
const check = (headers: Record<string, string>, needsToken = true) =>
  checkRequest(headers, { port, token, needsToken });

describe('checkRequest', () => {
  it('lets the page itself in: our Host, our Origin or none, the token', () => {
    const auth = `Bearer ${token}`;
    expect(check({ host: '127.0.0.1:4090', authorization: auth })).toBeUndefined();
    expect(check({ host: 'localhost:4090', authorization: auth })).toBeUndefined();
    expect(
      check({
        host: '127.0.0.1:4090',
        origin: 'http://127.0.0.1:4090',
        'sec-fetch-site': 'same-origin',
        authorization: auth,
      }),
    ).toBeUndefined();
    expect(
      check({ host: 'LOCALHOST:4090', origin: 'http://localhost:4090', authorization: auth }),
    ).toBeUndefined();
  });

  it('refuses another host name (DNS rebinding) with 403, token or not', () => {
    for (const host of [
      'evil.example:4090',
      '127.0.0.1',
      '127.0.0.1:4091',
      '0.0.0.0:4090',
      '[::1]:4090',
    ]) {
      expect(check({ host, authorization: `Bearer ${token}` })?.status, host).toBe(403);
    }
    expect(check({})?.status).toBe(403);
  });

  it('refuses requests from other origins with 403', () => {
    for (const origin of [
      'http://evil.example',
      'http://127.0.0.1:8080',
      'null',
      'https://127.0.0.1:4090',
    ]) {
      const r = check({ host: '127.0.0.1:4090', origin, authorization: `Bearer ${token}` });
      expect(r?.status, origin).toBe(403);
      expect(r?.message).toContain('cross-origin');
    }
    expect(
      check({
        host: '127.0.0.1:4090',
        'sec-fetch-site': 'cross-site',
        authorization: `Bearer ${token}`,
      })?.status,
    ).toBe(403);
  });

  it('refuses API requests without the right token with 401, and serves pages without one', () => {
    for (const authorization of [
      undefined,
      '',
      'Bearer',
      `Bearer ${token}x`,
      `Basic ${token}`,
      token,
    ]) {
      const headers: Record<string, string> = { host: '127.0.0.1:4090' };
      if (authorization !== undefined) headers['authorization'] = authorization;
      expect(check(headers)?.status, String(authorization)).toBe(401);
      expect(check(headers, false)).toBeUndefined();
    }
  });
});

describe('hasToken', () => {
  it('accepts only Bearer with the exact token', () => {
    expect(hasToken(`Bearer ${token}`, token)).toBe(true);
    expect(hasToken(`Bearer ${token.slice(0, -1)}`, token)).toBe(false);
    expect(hasToken(`Bearer ${'a'.repeat(300)}`, token)).toBe(false);
  });

  it('makes a new token every time', () => {
    expect(newToken()).not.toBe(newToken());
    expect(newToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
