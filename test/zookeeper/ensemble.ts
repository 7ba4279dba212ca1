import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from './helpers.js';

const ZK_SERVER = '/usr/share/zookeeper/bin/zkServer.sh';

/** Sends a four-letter word to a server and resolves with its answer ('' when it does not answer). */
export function fourLetters(port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = () => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(2000, done);
    socket.on('error', done);
    socket.on('connect', () => socket.write(word));
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('end', done);
  });
}

/** The first port the kernel hands out by itself (to `listen(0)` and to outgoing connections). */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    return Number(low) || 32768;
  } catch {
    return 32768;
  }
}

/** Whether `port` can be listened on at 127.0.0.1 now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port below the kernel's ephemeral range. A new leader binds its
 * quorum port only once elected, a minute into a test run: a port the
 * kernel may hand out meanwhile (to another test's `listen(0)` or outgoing
 * connection) left it unable to lead, and the ensemble without a leader.
 * Below that range a port is taken only by a program that asks for it.
 */
async function reservedPort(taken: Set<number>): Promise<number> {
  const top = Math.min(ephemeralStart(), 32768);
  if (top < 21000)
    throw new Error(`the kernel's ephemeral ports start at ${top}: no room below them`);
  for (let tries = 0; tries < 1000; tries++) {
    const port = 20000 + Math.floor(Math.random() * (top - 20000));
    if (taken.has(port) || !(await canListen(port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error(`no free port between 20000 and ${top}`);
}

/** One server of the ensemble. */
export interface EnsembleServer {
  /** 1, 2 or 3: its `myid` */
  id: number;
  clientPort: number;
  dir: string;
  pidFile: string;
}

/**
 * A three-server ZooKeeper ensemble on this machine, of a test's own: three
 * client ports, three data dirs, quorum and election ports on 127.0.0.1,
 * `srvr` allowed so that a test can find the leader. `dispose()` stops every
 * server and removes its files; call it in `afterAll`, even on failure.
 */
export class ZooKeeperEnsemble {
  readonly dir = mkdtempSync(join(tmpdir(), 'svc-zk-ensemble-'));
  readonly servers: EnsembleServer[] = [];

  /** `host:port,host:port,host:port`, for a `zookeeper://` URL. */
  get connectString(): string {
    return this.servers.map((s) => `127.0.0.1:${s.clientPort}`).join(',');
  }

  /** Writes the configs, starts the three servers and waits until they have a leader. */
  async start(timeoutMs = 45_000): Promise<void> {
    if (!existsSync(ZK_SERVER))
      throw new Error(`${ZK_SERVER} is missing: run scripts/zookeeper.sh`);
    const ports: number[] = [];
    const seen = new Set<number>();
    while (ports.length < 9) ports.push(await reservedPort(seen));
    const quorum = [1, 2, 3].map(
      (id) => `server.${id}=127.0.0.1:${ports[3 + id - 1]}:${ports[6 + id - 1]}`,
    );
    for (const id of [1, 2, 3]) {
      const dir = join(this.dir, `zk${id}`);
      mkdirSync(join(dir, 'data'), { recursive: true });
      writeFileSync(join(dir, 'data', 'myid'), `${id}\n`);
      const server: EnsembleServer = {
        id,
        clientPort: ports[id - 1]!,
        dir,
        pidFile: join(dir, 'zookeeper.pid'),
      };
      const cfg = join(dir, 'zoo.cfg');
      writeFileSync(
        cfg,
        [
          // Short ticks: a lost leader is noticed and replaced in a second or two.
          'tickTime=500',
          'initLimit=20',
          'syncLimit=4',
          `dataDir=${join(dir, 'data')}`,
          `clientPort=${server.clientPort}`,
          'clientPortAddress=127.0.0.1',
          'admin.enableServer=false',
          '4lw.commands.whitelist=ruok,srvr,stat',
          'maxSessionTimeout=60000',
          ...quorum,
          '',
        ].join('\n'),
      );
      execFileSync(ZK_SERVER, ['start', cfg], {
        env: {
          ...process.env,
          // No JMX connector on every interface (as scripts/zookeeper.sh); a small heap each.
          JMXDISABLE: 'true',
          SERVER_JVMFLAGS: '-Xmx128m',
          ZOO_LOG_DIR: dir,
          ZOOPIDFILE: server.pidFile,
        },
        stdio: 'pipe',
      });
      this.servers.push(server);
    }
    const deadline = Date.now() + timeoutMs;
    while ((await this.leader()) === undefined || !(await this.allServing())) {
      if (Date.now() > deadline)
        throw new Error(`the ensemble did not elect a leader:\n${await this.state()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** What a server says it is (`leader`, `follower`), or undefined when it is down or not serving. */
  async mode(server: EnsembleServer): Promise<string | undefined> {
    const reply = await fourLetters(server.clientPort, 'srvr');
    return /^Mode: (\w+)/m.exec(reply)?.[1];
  }

  /** The server that leads now, if one does. */
  async leader(): Promise<EnsembleServer | undefined> {
    for (const s of this.servers) if ((await this.mode(s)) === 'leader') return s;
    return undefined;
  }

  /** Whether every running server is leader or follower. */
  async allServing(): Promise<boolean> {
    for (const s of this.servers) {
      if (this.pid(s) === undefined) continue;
      const mode = await this.mode(s);
      if (mode !== 'leader' && mode !== 'follower') return false;
    }
    return true;
  }

  pid(server: EnsembleServer): number | undefined {
    if (!existsSync(server.pidFile)) return undefined;
    const pid = Number(readFileSync(server.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  }

  /** `kill -9` of a server; resolves once its process is gone. */
  async kill(server: EnsembleServer): Promise<void> {
    const pid = this.pid(server);
    rmSync(server.pidFile, { force: true });
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Each server's process and what it answers to `srvr`, to explain a
   * failure (Debian's ZooKeeper logs nothing: its log4j binding is missing).
   */
  async state(): Promise<string> {
    const lines = [];
    for (const s of this.servers) {
      const pid = this.pid(s);
      const srvr = pid === undefined ? '' : await fourLetters(s.clientPort, 'srvr');
      const mode = /^Mode: (\w+)/m.exec(srvr)?.[1] ?? (srvr ? srvr.trim() : 'no answer');
      lines.push(`zk${s.id}: ${pid === undefined ? 'not running' : `pid ${pid}, ${mode}`}`);
    }
    return lines.join('\n');
  }

  /** Stops every server (SIGKILL: nothing of theirs is kept) and removes their files. */
  async dispose(): Promise<void> {
    await Promise.allSettled(this.servers.map((s) => this.kill(s)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
