import type { Server, Socket } from 'node:net';
import { ConfigError } from './errors.js';

/** Listen errors that mean the address asked for cannot be had here. */
const ADDRESS_PROBLEMS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
};

/**
 * `EADDRINUSE (address already in use)` when `err` says an address cannot be
 * had here (a Node or a ZeroMQ bind error), else undefined.
 */
export function addressProblem(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  const why = typeof code === 'string' ? ADDRESS_PROBLEMS[code] : undefined;
  return why === undefined ? undefined : `${String(code)} (${why})`;
}

/** Where a server listens: an address, or a socket descriptor it was handed. */
export type ListenAt = { host: string; port: number } | { fd: number };

/**
 * Starts `server` listening at `at`. An address it cannot have
 * (taken, not on this host, a low port without the right) comes from the
 * configuration, so it is a ConfigError: `cannot bind 127.0.0.1:4080:
 * EADDRINUSE (address already in use)`. Other errors are passed on.
 */
export function listen(server: Server, at: ListenAt): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => {
      const why = addressProblem(err);
      if (why === undefined) return reject(err);
      const where =
        'fd' in at
          ? `descriptor ${at.fd}`
          : `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
      reject(new ConfigError(`cannot bind ${where}: ${why}`, { cause: err }));
    };
    server.once('error', fail);
    const done = () => {
      server.off('error', fail);
      resolve();
    };
    if ('fd' in at) server.listen({ fd: at.fd }, done);
    else server.listen({ host: at.host, port: at.port }, done);
  });
}

/** How a connected peer is named in logs: `address:port`, or what a unix socket's peer is. */
export function peerName(socket: Socket): string {
  return socket.remoteAddress === undefined && socket.remotePort === undefined
    ? 'a local process (unix socket)'
    : `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
