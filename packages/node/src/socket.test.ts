import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@svc/core';
import { bindSocket } from './socket.js';

function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('bindSocket', () => {
  it('binds a port without listening on it', async () => {
    const socket = bindSocket('127.0.0.1', 0);
    try {
      expect(socket.port).toBeGreaterThan(0);
      expect(socket.fd).toBeGreaterThan(2);
      expect(await tryConnect(socket.port)).toBe('ECONNREFUSED');
    } finally {
      socket.close();
    }
  });

  it('reports an address in use as a ConfigError', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      expect(() => bindSocket('127.0.0.1', port)).toThrow(ConfigError);
      expect(() => bindSocket('127.0.0.1', port)).toThrow(
        `cannot bind 127.0.0.1:${port}: EADDRINUSE`,
      );
    } finally {
      server.close();
    }
  });
});
