import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { listen } from './listen.js';

describe('listen', () => {
  it('listens at the address asked for', async () => {
    const server = createServer();
    try {
      await listen(server, { host: '127.0.0.1', port: 0 });
      expect(server.listening).toBe(true);
    } finally {
      server.close();
    }
  });

  it('turns a taken address into a ConfigError that names it', async () => {
    const first = createServer();
    const second = createServer();
    try {
      await listen(first, { host: '127.0.0.1', port: 0 });
      const { port } = first.address() as { port: number };
      const err = await listen(second, { host: '127.0.0.1', port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        `cannot bind 127.0.0.1:${port}: EADDRINUSE (address already in use)`,
      );
      expect(second.listening).toBe(false);
    } finally {
      first.close();
      second.close();
    }
  });
});
