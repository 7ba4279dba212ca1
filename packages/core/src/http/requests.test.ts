import { describe, expect, it } from 'vitest';
import { http } from '../decorators.js';
import { Service } from '../service.js';
import { testCluster } from '../testing/index.js';
import type { HttpRequest } from './types.js';

class Echo extends Service {
  static override serviceName = 'Echo';
  @http('GET', '/echo/:id')
  get(req: HttpRequest) {
    return { path: req.path, id: req.params['id'], query: req.query, body: req.body ?? null };
  }
  @http('GET', '/all')
  all(req: HttpRequest) {
    return { a: req.searchParams.getAll('a'), last: req.query['a'] ?? null, url: req.url };
  }
  @http('POST', '/echo')
  post(req: HttpRequest) {
    return { body: req.body };
  }
}

describe('HTTP entrypoint requests', () => {
  it('reads path, params, query and body whatever the shape of the request', async () => {
    await using cluster = await testCluster([Echo]);
    const base = cluster.instances[0]!.httpUrl!;
    const get = async (target: string) => (await fetch(`${base}${target}`)).json();
    expect(await get('/echo/7')).toEqual({ path: '/echo/7', id: '7', query: {}, body: null });
    expect(await get('/echo/7?a=1&b=x%20y')).toEqual({
      path: '/echo/7',
      id: '7',
      query: { a: '1', b: 'x y' },
      body: null,
    });
    // A repeated key: every value in searchParams, the last one in query.
    expect(await get('/all?a=1&a=2')).toEqual({ a: ['1', '2'], last: '2', url: '/all?a=1&a=2' });
    expect(await get('/all')).toEqual({ a: [], last: null, url: '/all' });
    // Dot segments and percent-encoding are normalised before routing.
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(base);
      import('node:net').then(({ connect }) => {
        const socket = connect(Number(url.port), url.hostname, () =>
          socket.end('GET /x/../echo/%41 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
        );
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      }, reject);
    });
    expect(raw).toContain('"path":"/echo/%41"');
    const posted = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1 }),
    });
    expect(await posted.json()).toEqual({ body: { n: 1 } });
    const chunked = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: new Blob(['hello']).stream(),
      duplex: 'half',
    });
    expect(await chunked.json()).toEqual({ body: 'hello' });
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
  });
});
