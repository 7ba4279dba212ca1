import { isIPv6 } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { ConfigError } from '@svc/core';

/** A TCP socket bound to an address but not listening; children listen on its descriptor. */
export interface BoundSocket {
  /** the descriptor to put in a child's `stdio` array */
  readonly fd: number;
  readonly host: string;
  /** the bound port (the kernel's choice when 0 was asked for) */
  readonly port: number;
  /** closes the supervisor's copy; children keep theirs */
  close(): void;
}

// The internal handle Node's `cluster` module uses for shared server handles.
interface TcpHandle {
  readonly fd: number;
  bind(host: string, port: number): number;
  bind6(host: string, port: number, flags: number): number;
  getsockname(out: { port?: number }): number;
  close(): void;
}
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  constants: { SERVER: number };
}

/**
 * Binds a TCP socket without listening and returns its descriptor.
 *
 * Why not `net.createServer().listen()`: a listening supervisor would accept
 * connections itself and never serve them. A bound socket passed to each child
 * (which calls `server.listen({ fd })`) makes the kernel spread connections
 * over the children only. Throws a ConfigError when the address cannot be bound.
 */
export function bindSocket(host: string, port: number): BoundSocket {
  // process.binding is deprecated for public use but is what `cluster` relies
  // on; it is the only way to get a bound, non-listening TCP socket in Node.
  const wrap = (process as unknown as { binding(name: string): TcpWrap }).binding('tcp_wrap');
  const handle = new wrap.TCP(wrap.constants.SERVER);
  const err = isIPv6(host) ? handle.bind6(host, port, 0) : handle.bind(host, port);
  if (err !== 0) {
    handle.close();
    throw new ConfigError(`cannot bind ${host}:${port}: ${getSystemErrorName(err)}`);
  }
  const out: { port?: number } = {};
  const nameErr = handle.getsockname(out);
  if (nameErr !== 0 || out.port === undefined || handle.fd < 0) {
    // libuv defers EADDRINUSE from bind() to listen() (and only that error),
    // leaving the socket unbound: an unreadable address means the port is taken.
    handle.close();
    throw new ConfigError(`cannot bind ${host}:${port}: EADDRINUSE (address already in use)`);
  }
  let closed = false;
  return {
    fd: handle.fd,
    host,
    port: out.port,
    close() {
      if (closed) return;
      closed = true;
      handle.close();
    },
  };
}
