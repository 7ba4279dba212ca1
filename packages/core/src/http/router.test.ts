import { describe, expect, it } from 'vitest';
import { Router } from './router.js';

function routeOf(router: Router<string>, verb: string, path: string): unknown {
  const m = router.match(verb, path);
  return m && 'target' in m ? { target: m.target, params: { ...m.params } } : m;
}

describe('Router', () => {
  it('prefers a static segment to a parameter whichever was registered first', () => {
    for (const order of [
      ['/users/:id', '/users/me'],
      ['/users/me', '/users/:id'],
    ]) {
      const router = new Router<string>();
      for (const pattern of order) router.add('GET', pattern, pattern);
      expect(routeOf(router, 'GET', '/users/me')).toEqual({ target: '/users/me', params: {} });
      expect(routeOf(router, 'GET', '/users/42')).toEqual({
        target: '/users/:id',
        params: { id: '42' },
      });
    }
  });

  it('decides at the leftmost segment where routes differ, as a radix router walks', () => {
    const router = new Router<string>();
    router.add('GET', '/:org/repos/:name', 'param-first');
    router.add('GET', '/acme/:section/readme', 'static-first');
    router.add('GET', '/acme/repos/:name', 'both-static');
    expect(routeOf(router, 'GET', '/acme/repos/x')).toMatchObject({ target: 'both-static' });
    expect(routeOf(router, 'GET', '/acme/issues/readme')).toMatchObject({ target: 'static-first' });
    expect(routeOf(router, 'GET', '/other/repos/x')).toMatchObject({
      target: 'param-first',
      params: { org: 'other', name: 'x' },
    });
  });

  it('falls back to a parameter route when the static one matches the path but not the method', () => {
    const router = new Router<string>();
    router.add('GET', '/users/me', 'me');
    router.add('DELETE', '/users/:id', 'delete');
    expect(routeOf(router, 'DELETE', '/users/me')).toEqual({
      target: 'delete',
      params: { id: 'me' },
    });
    expect(router.match('POST', '/users/me')).toEqual({ allowed: ['GET', 'DELETE'] });
  });

  it('keeps registration order between routes of the same shape and refuses a duplicate', () => {
    const router = new Router<string>();
    router.add('GET', '/a/:x', 'first');
    router.add('GET', '/a/:y', 'second');
    expect(routeOf(router, 'GET', '/a/1')).toEqual({ target: 'first', params: { x: '1' } });
    expect(() => router.add('GET', '/a/:x', 'again')).toThrow('two handlers for GET /a/:x');
  });
});
