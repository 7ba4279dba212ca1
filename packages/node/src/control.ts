import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RpcTimeoutError, SvcError, UsageError } from '@svc/core';
import type { ProcessStatus } from './supervisor.js';

/** What `svc node status` receives. */
export interface NodeStatus {
  config: string;
  pid: number;
  startedAt: number;
  sockets: { name: string; host: string; port: number }[];
  processes: ProcessStatus[];
}

/** A request on the control socket (one JSON line). */
export type ControlRequest = { cmd: 'status' } | { cmd: 'restart'; name: string };

type ControlReply = { ok: true; result?: unknown } | { ok: false; error: string; code?: string };

const MAX_REQUEST = 64 * 1024;
// sun_path holds 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH = 100;

/** The absolute, symlink-free path that names a cluster: two spellings of one file meet. */
export function canonicalConfigPath(file: string): string {
  const abs = resolve(file);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

function uidTag(): string {
  return String(process.getuid?.() ?? 'user');
}

function ownDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new UsageError(
      `${dir} belongs to another user; set XDG_RUNTIME_DIR to a folder of yours`,
    );
  }
  return dir;
}

/**
 * The control socket of the supervisor of a config file: in the per-user
 * runtime folder (`$XDG_RUNTIME_DIR/svc`, else `<tmp>/svc-<uid>`), named by a
 * hash of the config's real path, so any terminal finds it and paths stay
 * under the unix socket length limit.
 */
export function controlSocketPath(configFile: string, create = false): string {
  const hash = createHash('sha256')
    .update(canonicalConfigPath(configFile))
    .digest('hex')
    .slice(0, 16);
  const runtime = process.env.XDG_RUNTIME_DIR;
  const candidates = [
    ...(runtime && existsSync(runtime) ? [join(runtime, 'svc')] : []),
    join(tmpdir(), `svc-${uidTag()}`),
    `/tmp/svc-${uidTag()}`,
  ];
  const dir =
    candidates.find((d) => join(d, `node-${hash}.sock`).length <= MAX_SOCKET_PATH) ??
    `/tmp/svc-${uidTag()}`;
  if (create) ownDir(dir);
  return join(dir, `node-${hash}.sock`);
}

function send(path: string, request: ControlRequest, timeoutMs?: number): Promise<ControlReply> {
  return new Promise((resolvePromise, reject) => {
    const sock = connect(path);
    let data = '';
    if (timeoutMs !== undefined) {
      const timer = setTimeout(
        () =>
          sock.destroy(new RpcTimeoutError(`the svc node did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      sock.once('close', () => clearTimeout(timer));
    }
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('data', (d: string) => {
      data += d;
      if (data.length > 16 * 1024 * 1024) sock.destroy(new Error('reply too large'));
    });
    sock.on('error', reject);
    sock.on('close', () => {
      try {
        resolvePromise(JSON.parse(data) as ControlReply);
      } catch {
        reject(new SvcError('the supervisor sent an unreadable reply'));
      }
    });
  });
}

/**
 * Sends one request to the supervisor of `configFile` and returns its result;
 * a UsageError when none runs, an RpcTimeoutError when it has not answered
 * within `timeoutMs` (default: no limit), the supervisor's error otherwise.
 */
export async function controlRequest(
  configFile: string,
  request: ControlRequest,
  options: { timeoutMs?: number } = {},
): Promise<unknown> {
  const path = controlSocketPath(configFile);
  let reply: ControlReply;
  try {
    reply = await send(path, request, options.timeoutMs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      throw new UsageError(
        `no svc node is running for ${canonicalConfigPath(configFile)} (start one with \`svc node\` in its folder, or pass --config)`,
      );
    }
    throw err;
  }
  if (!reply.ok) {
    if (reply.code === UsageError.code) throw new UsageError(reply.error);
    throw new SvcError(reply.error, { code: reply.code });
  }
  return reply.result;
}

/**
 * Listens on the control socket of `configFile`. Refuses (UsageError) when a
 * live supervisor already serves that config; a stale socket file is replaced.
 */
export async function serveControl(
  configFile: string,
  handle: (request: ControlRequest) => Promise<unknown>,
): Promise<{ path: string; close(): void }> {
  const path = controlSocketPath(configFile, true);
  if (existsSync(path)) {
    const alive = await send(path, { cmd: 'status' }).then(
      (r) => (r.ok ? (r.result as NodeStatus).pid : -1),
      () => undefined,
    );
    if (alive !== undefined) {
      throw new UsageError(
        `an svc node already runs for ${canonicalConfigPath(configFile)} (pid ${alive})`,
      );
    }
    unlinkSync(path);
  }
  const server: Server = createServer((sock) => {
    let data = '';
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    sock.on('data', (d: string) => {
      data += d;
      if (data.length > MAX_REQUEST) {
        sock.end(`${JSON.stringify({ ok: false, error: 'request too large' })}\n`);
        return;
      }
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      sock.removeAllListeners('data');
      void answer(data.slice(0, nl)).then((reply) => sock.end(`${JSON.stringify(reply)}\n`));
    });
  });
  const answer = async (line: string): Promise<ControlReply> => {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'bad request: not JSON' };
    }
    const r = req as Partial<{ cmd: unknown; name: unknown }> | null;
    if (!r || (r.cmd !== 'status' && r.cmd !== 'restart'))
      return { ok: false, error: 'bad request: unknown cmd' };
    if (r.cmd === 'restart' && typeof r.name !== 'string')
      return { ok: false, error: 'bad request: name' };
    try {
      const request: ControlRequest =
        r.cmd === 'status' ? { cmd: 'status' } : { cmd: 'restart', name: r.name as string };
      return { ok: true, result: await handle(request) };
    } catch (err) {
      return err instanceof SvcError
        ? { ok: false, error: err.message, code: err.code }
        : { ok: false, error: String(err) };
    }
  };
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, () => res());
  });
  chmodSync(path, 0o600);
  return {
    path,
    close() {
      server.close();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
