import type { Socket } from 'node:net';
import type { ClusterAuth } from '@svc/core';
import { parseJsonSafe } from '@svc/core/internal';
import { connectLogStream } from './connect.js';

/** Longest reply line accepted (a ring of 2000 records). */
const MAX_REPLY_BYTES = 32 * 1024 * 1024;

/**
 * Asks one instance, over its log stream, for `metrics` or `recent_logs`:
 * the way to reach one given instance when the RPC transport cannot
 * address it (AMQP RPC goes to any instance of a service).
 */
export function queryLogStream(
  auth: ClusterAuth,
  endpoint: string,
  op: 'metrics' | 'recent_logs',
  params: { traceId?: string; limit?: number } = {},
  timeoutMs = 3000,
): Promise<unknown> {
  let socket: Socket;
  try {
    socket = connectLogStream(auth, endpoint);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  return new Promise((resolve, reject) => {
    // The line being received, in its chunks: a reply of megabytes comes in hundreds of them, and
    // searching a string grown by each for its end copied the whole of it each time (a 30 MB ring:
    // 4 s of this thread over TCP, 17 s over TLS). Only a new chunk is searched; joined once.
    const parts: string[] = [];
    let held = 0;
    const done = (err: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () => done(new Error(`${endpoint} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: string) => {
      let from = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
        parts.push(chunk.slice(from, nl));
        const line = parts.join('');
        parts.length = 0;
        held = 0;
        from = nl + 1;
        // Log records stream on the same connection; only the reply matters here.
        if (!line.startsWith('{"op":"reply"')) continue;
        try {
          const reply = parseJsonSafe(line) as { id?: unknown; result?: unknown };
          if (reply.id === 1) return done(undefined, reply.result);
        } catch {
          return done(new Error(`${endpoint} sent a malformed reply`));
        }
      }
      if (from < chunk.length) {
        parts.push(chunk.slice(from));
        held += chunk.length - from;
      }
      if (held > MAX_REPLY_BYTES) done(new Error(`${endpoint} sent an oversized line`));
    };
    auth.connect(socket, endpoint, {
      ready: (rest) => {
        socket.write(`${JSON.stringify({ op, id: 1, ...params })}\n`);
        socket.setEncoding('utf8');
        socket.on('data', onData);
        if (rest.length > 0) onData(rest.toString('utf8'));
      },
      failed: (err) => done(err),
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`${endpoint} closed the connection`)));
  });
}
