import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SseStream } from './sse.js';

async function serve(onStream: (s: SseStream) => void, maxQueuedBytes: number): Promise<Server> {
  const server = createServer((_req, res) =>
    onStream(new SseStream(res, { maxQueuedBytes, heartbeatMs: 0 })),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

function open(server: Server): Promise<IncomingMessage> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/' }, resolve).on('error', reject).end();
  });
}

describe('SseStream', () => {
  it('sends events a reading browser receives', async () => {
    let stream: SseStream | undefined;
    const server = await serve((s) => (stream = s), 1024 * 1024);
    try {
      const res = await open(server);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      expect(stream!.send('cluster', '{"a":1}')).toBe(true);
      stream!.close();
      await new Promise((r) => res.once('end', r));
      expect(text).toBe('event: cluster\ndata: {"a":1}\n\n');
      expect(stream!.endedBy).toBe('server');
    } finally {
      server.close();
    }
  });

  it('drops a browser that does not read instead of buffering for it without bound', async () => {
    let stream: SseStream | undefined;
    let response: ServerResponse | undefined;
    const max = 256 * 1024;
    const server = createServer((_req, res) => {
      response = res;
      stream = new SseStream(res, { maxQueuedBytes: max, heartbeatMs: 0 });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await open(server);
      res.pause(); // a stalled browser: nothing is read
      const event = JSON.stringify('x'.repeat(16 * 1024));
      const closed = new Promise<void>((r) => stream!.onClose(r));
      let sent = 0;
      let peak = 0;
      // The kernel's socket buffers take some MiB before the server holds anything itself.
      for (let i = 0; i < 20_000 && stream!.send('log', event); i++) {
        sent++;
        peak = Math.max(peak, response!.writableLength);
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      await closed;
      expect(stream!.endedBy).toBe('slow');
      expect(stream!.send('log', event)).toBe(false);
      expect(sent).toBeLessThan(20_000);
      // What the server held for it never passed the limit by more than one event.
      expect(peak).toBeLessThanOrEqual(max + event.length + 64);
      res.destroy();
    } finally {
      server.close();
    }
  });
});
