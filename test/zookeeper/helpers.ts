import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendContext, InstanceRecord, Logger } from '@svc/core';
import { eventually } from '@svc/core/testing/conformance';
import zookeeper from 'node-zookeeper-client';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Starts the shared ZooKeeper on 127.0.0.1:2181 when it is not running; throws when it cannot. */
export function ensureZooKeeper(): void {
  try {
    execFileSync('bash', ['scripts/zookeeper.sh'], { cwd: repoRoot, stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `scripts/zookeeper.sh failed: ${String(e.stdout ?? '')}${String(e.stderr ?? '')}`,
      { cause: error },
    );
  }
}

/** A root no other test file uses. */
export function uniqueRoot(): string {
  return `/svc-test-${randomBytes(4).toString('hex')}`;
}

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps what it was told, so tests can look at it. */
export function memoryLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, ...(fields ? { fields } : {}) });
    };
  const log = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => log,
  };
  return log;
}

export function context(log: Logger = memoryLogger()): BackendContext {
  return { cluster: 'test', bindHost: '127.0.0.1', log, clientName: 'zk-test' };
}

type Client = zookeeper.Client;

/** A raw client of the library, for what the registry does not offer (bad nodes, cleanup). */
export async function rawClient(
  connectString: string,
  options: Record<string, unknown> = {},
): Promise<Client> {
  const client = zookeeper.createClient(connectString, options);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ZooKeeper at ${connectString}`)), 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

export function closeClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    client.once('disconnected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.close();
  });
}

/** Deletes a subtree; tests call it on their root when they are done. */
export async function removeTree(client: Client, path: string): Promise<void> {
  const children = await new Promise<string[]>((resolve) =>
    client.getChildren(path, (e, c) => resolve(e ? [] : c)),
  );
  for (const child of children) await removeTree(client, `${path}/${child}`);
  await new Promise<void>((resolve) => client.remove(path, () => resolve()));
}

/**
 * A real process that registers `record` on the registry `url` and stays (its session with
 * it); with `ownPid`, under its own pid, as `svc instance` does. Resolves once it has
 * registered; killed, and an Error with what it printed, when it has not within 15 s.
 */
export async function registeringProcess(
  url: string,
  record: InstanceRecord,
  options: { ownPid: boolean },
): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const script = [
    "import { createRegistry } from '@svc/core';",
    'const log = { debug() {}, info() {}, warn() {}, error() {}, child() { return log; } };',
    "const ctx = { cluster: 'test', bindHost: '127.0.0.1', log, clientName: 'child' };",
    'const registry = await createRegistry(process.env.ZK_URL, ctx);',
    'const record = JSON.parse(process.env.RECORD);',
    `await registry.register(${options.ownPid ? '{ ...record, pid: process.pid }' : 'record'});`,
    "process.stdout.write('registered\\n');",
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(repoRoot, 'test'),
    env: { ...process.env, ZK_URL: url, RECORD: JSON.stringify(record) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  if (!(await eventually(() => out.includes('registered'), 15_000))) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`the child did not register: ${out}`);
  }
  return { child, exited };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function ruok(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('ruok'));
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('end', () => done(reply === 'imok'));
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const ZK_SERVER = '/usr/share/zookeeper/bin/zkServer.sh';

/**
 * A ZooKeeper of a test's own, on a free port with its own data dir, that the
 * test may stop and start without disturbing the shared one on 2181.
 */
export class PrivateZooKeeper {
  readonly dir = mkdtempSync(join(tmpdir(), 'svc-zk-private-'));
  port = 0;

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  get #pidFile(): string {
    return join(this.dir, 'zookeeper.pid');
  }

  async start(): Promise<void> {
    if (!existsSync(ZK_SERVER))
      throw new Error(`${ZK_SERVER} is missing: run scripts/zookeeper.sh`);
    if (this.port === 0) this.port = await freePort();
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    const cfg = join(this.dir, 'zoo.cfg');
    writeFileSync(
      cfg,
      [
        'tickTime=1000',
        `dataDir=${join(this.dir, 'data')}`,
        `clientPort=${this.port}`,
        'clientPortAddress=127.0.0.1',
        'admin.enableServer=false',
        '4lw.commands.whitelist=ruok,srvr',
        '',
      ].join('\n'),
    );
    execFileSync(ZK_SERVER, ['start', cfg], {
      // JMXDISABLE: no JMX connector listening on every interface (as scripts/zookeeper.sh)
      env: { ...process.env, JMXDISABLE: 'true', ZOO_LOG_DIR: this.dir, ZOOPIDFILE: this.#pidFile },
      stdio: 'pipe',
    });
    for (let i = 0; i < 60; i++) {
      if (await ruok(this.port)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`private ZooKeeper on port ${this.port} did not start (see ${this.dir})`);
  }

  /** Stops the server and waits until its process is gone. */
  async stop(): Promise<void> {
    if (!existsSync(this.#pidFile)) return;
    const pid = Number(readFileSync(this.#pidFile, 'utf8').trim());
    rmSync(this.#pidFile, { force: true });
    if (!Number.isInteger(pid) || pid <= 0) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }

  /** Deletes the server's data, as a server that lost its disk would (stop it first). */
  wipe(): void {
    rmSync(join(this.dir, 'data'), { recursive: true, force: true });
  }

  /** The end of the server's log, to explain a failure. */
  logTail(lines = 40): string {
    try {
      const out = readdirSync(this.dir).filter((f) => f.endsWith('.out'));
      return out
        .map((f) => readFileSync(join(this.dir, f), 'utf8').split('\n').slice(-lines).join('\n'))
        .join('\n');
    } catch {
      return '';
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Ends a session from outside, as ZooKeeper's own tests do: a second client
 * connects with the session's id and password and closes it. Resolves once
 * the server answered the close without an error, or said on connecting that
 * the session is gone; rejects, naming the session and what each attempt
 * came to, when neither happened within `timeoutMs`.
 *
 * One attempt is not enough on a busy machine. The connect takes the session
 * from its owner's connection, and the owner's client connects again at once,
 * taking it back: the server then drops our connection, with or without our
 * close already on its way to being committed ('cut off'). When it was, the
 * next attempt can still be let in (the close is not yet marked) and send its
 * own close after the mark: the server drops a request of a session that is
 * closing without an answer and without closing the connection (ZooKeeper
 * 3.8, ZooKeeperServer.submitRequestNow), which its idle-connection reaper
 * only ends 10 to 20 s later ('no answer'). So an attempt waits `attemptMs`
 * at most, and another follows until the server confirms the close or says
 * the session is gone.
 */
export async function closeSessionOf(
  port: number,
  sessionId: Buffer,
  password: Buffer,
  { timeoutMs = 20_000, attemptMs = 3000 }: { timeoutMs?: number; attemptMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const outcomes: string[] = [];
  for (;;) {
    const left = deadline - Date.now();
    const outcome = await closeSessionOnce(port, sessionId, password, Math.min(attemptMs, left));
    if (outcome === 'closed' || outcome === 'gone') return;
    outcomes.push(outcome);
    if (Date.now() + 100 >= deadline) break;
    // A close cut off on its way may commit meanwhile: then the next attempt hears 'gone'.
    await new Promise((r) => setTimeout(r, 100));
  }
  const counted = new Map<string, number>();
  for (const o of outcomes) counted.set(o, (counted.get(o) ?? 0) + 1);
  throw new Error(
    `ZooKeeper did not close session 0x${sessionId.toString('hex')} within ${timeoutMs} ms: ` +
      `${outcomes.length} attempts (${[...counted].map(([o, n]) => `${o} ×${n}`).join(', ')})`,
  );
}

/**
 * One connect + close, pipelined in one write. 'closed': the close was
 * answered without an error; 'gone': the connect was answered with a zero
 * timeout (no such session); otherwise what stopped it: 'cut off' (the
 * connection ended first), 'no answer' (nothing for `waitMs`), the close's
 * error code, or a socket error.
 */
function closeSessionOnce(
  port: number,
  sessionId: Buffer,
  password: Buffer,
  waitMs: number,
): Promise<string> {
  // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (jute framing).
  const connect = Buffer.alloc(4 + 4 + 8 + 4 + 8 + 4 + password.length);
  let o = connect.writeInt32BE(connect.length - 4, 0);
  o = connect.writeInt32BE(0, o);
  o = connect.writeBigInt64BE(0n, o);
  o = connect.writeInt32BE(10_000, o);
  o += sessionId.copy(connect, o);
  o = connect.writeInt32BE(password.length, o);
  password.copy(connect, o);
  // RequestHeader { xid: 1, type: closeSession (-11) }.
  const close = Buffer.alloc(12);
  close.writeInt32BE(8, 0);
  close.writeInt32BE(1, 4);
  close.writeInt32BE(-11, 8);
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const settle = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle('no answer'), waitMs);
    let received = Buffer.alloc(0);
    let first = true;
    socket.on('error', (error: NodeJS.ErrnoException) =>
      settle(`socket ${error.code ?? error.message}`),
    );
    socket.on('connect', () => socket.write(Buffer.concat([connect, close])));
    // Frames: the ConnectResponse, then ReplyHeader { xid, zxid, err } for the close.
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 4) {
        const length = received.readInt32BE(0);
        if (received.length - 4 < length) return;
        const frame = received.subarray(4, 4 + length);
        received = received.subarray(4 + length);
        if (first) {
          first = false;
          // ConnectResponse { protocolVersion, timeOut, ... }: a zero timeout, no such session.
          if (length >= 8 && frame.readInt32BE(4) === 0) return settle('gone');
        } else if (length >= 16 && frame.readInt32BE(0) === 1) {
          const err = frame.readInt32BE(12);
          return settle(err === 0 ? 'closed' : `error ${err}`);
        }
      }
    });
    socket.on('close', () => settle('cut off'));
  });
}
