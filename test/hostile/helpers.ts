import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ClusterAuth, MsgpackSerializer } from '@svc/core';
import { silent } from '../support/rpc-fixture.js';
import { FIXTURES, type TestEnv } from '../support/svc.js';

export { cpuMs } from '../support/svc.js';

export const TARGET = join(FIXTURES, 'hostile');
export const serializer = new MsgpackSerializer({ maxBytes: 64 * 1024 * 1024 });

// The net transport's wire (packages/core/src/rpc/net-wire.ts).
export const REQUEST = 0;
export const REPLY_OK = 1;
export const REPLY_ERROR = 2;

export const headers = { traceId: 'hostile', callIdStack: [], data: {} };

/** Request headers as the net wire carries them: `[traceId, spanId, traceFlags, callIdStack, data]`. */
export function headerList(h: {
  traceId: unknown;
  callIdStack: unknown;
  data: unknown;
}): unknown[] {
  return [h.traceId, undefined, undefined, h.callIdStack, h.data];
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** The `tcp://host:port` an endpoint kind (`rpc`, `logs`) of the first instance of `service`. */
export async function endpointOf(env: TestEnv, service: string, kind = 'rpc'): Promise<string> {
  const client = await env.client();
  try {
    const [record] = await client.backends.registry.lookup(service);
    const endpoint = record?.endpoints[kind];
    if (!endpoint) throw new Error(`${service} has no ${kind} endpoint`);
    return endpoint;
  } finally {
    await client.close();
  }
}

export function hostPort(endpoint: string): { host: string; port: number } {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(endpoint)!;
  return { host: m[1]!, port: Number(m[2]) };
}

/** A length-prefixed frame of the net transport. */
export function frame(message: unknown): Buffer {
  const body = serializer.encode(message);
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** A raw connection to a net RPC port: writes what it is told, decodes the replies. */
export class RawPeer {
  readonly socket: Socket;
  readonly replies: unknown[][] = [];
  closed = false;
  readonly opened: Promise<void>;
  #buf = Buffer.alloc(0);

  /**
   * A member of the cluster (it holds the secret) that misbehaves: it passes
   * the handshake like any caller, then sends what the test says. With
   * `read` false it never reads a byte after the handshake.
   */
  constructor(cluster: string, endpoint: string, read = true) {
    this.socket = connect(hostPort(endpoint));
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
    const onData = (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      while (this.#buf.length >= 4) {
        const size = this.#buf.readUInt32BE(0);
        if (this.#buf.length < 4 + size) break;
        this.replies.push(serializer.decode(this.#buf.subarray(4, 4 + size)) as unknown[]);
        this.#buf = this.#buf.subarray(4 + size);
      }
    };
    this.opened = new Promise((resolve, reject) => {
      new ClusterAuth({ cluster }, { log: silent }).connect(this.socket, endpoint, {
        ready: (rest) => {
          if (!read) this.socket.pause();
          else {
            this.socket.on('data', onData);
            if (rest.length > 0) onData(rest);
          }
          resolve();
        },
        failed: reject,
      });
    });
  }

  request(
    id: number,
    method: string,
    params: unknown,
    hdrs: { traceId: unknown; callIdStack: unknown; data: unknown } = headers,
  ): void {
    this.socket.write(frame([REQUEST, id, 'Target', method, params, headerList(hdrs), 5000]));
  }

  async reply(id: number, timeoutMs = 5000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.replies.find((r) => r[1] === id);
      if (found) return found;
      if (this.closed) throw new Error(`connection closed before the reply to ${id}`);
      if (Date.now() > deadline) throw new Error(`no reply to ${id} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
