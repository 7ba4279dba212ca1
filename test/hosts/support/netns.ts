// "Hosts" for the multi-host tests: Linux network namespaces joined by veth
// pairs to one bridge in the root namespace, on a private test subnet. The
// test process stays in the root namespace (the bridge address), where
// ZooKeeper and RabbitMQ are reached through forwarders it starts.
import { execFileSync, spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Proc, SVC_BIN, TOUR } from '../../support/svc.js';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // already gone
  }
}

/**
 * A bridge `<prefix>-br` at `<subnet>.1` and one namespace per host name,
 * `<prefix>-<name>` at `<subnet>.<10 + i>`. Needs root (CI runs as root).
 *
 * Network namespaces share the machine's processes: a process on one "host"
 * could see that one on another is gone, which a real host cannot. With
 * `ownPids`, each command runs in a pid namespace of its own too (`unshare`,
 * which kills the command with SIGKILL when it dies itself), so that only
 * the network tells one host of another's death.
 */
export class Hosts {
  readonly bridge: string;
  readonly gateway: string;
  readonly addresses = new Map<string, string>();
  readonly #prefix: string;
  readonly #ownPids: boolean;

  constructor(
    prefix: string,
    subnet: string,
    names: readonly string[],
    options: { ownPids?: boolean } = {},
  ) {
    this.#prefix = prefix;
    this.#ownPids = options.ownPids ?? false;
    this.bridge = `${prefix}-br`;
    this.gateway = `${subnet}.1`;
    names.forEach((name, i) => this.addresses.set(name, `${subnet}.${11 + i}`));
  }

  /** Fails loudly when this process may not make namespaces. */
  static check(): void {
    if (process.getuid?.() !== 0)
      throw new Error('the multi-host test makes network namespaces: run it as root (CI does)');
    try {
      ip('netns', 'list');
    } catch (err) {
      throw new Error(`\`ip netns\` does not work here: ${(err as Error).message}`);
    }
  }

  namespace(name: string): string {
    return `${this.#prefix}-${name}`;
  }

  address(name: string): string {
    const a = this.addresses.get(name);
    if (a === undefined) throw new Error(`no host "${name}"`);
    return a;
  }

  /** Removes what this prefix owns, including leftovers of an earlier run that failed. */
  destroy(): void {
    for (const ns of ip('netns', 'list').split('\n')) {
      const name = ns.split(' ')[0];
      if (name?.startsWith(`${this.#prefix}-`)) quietly(() => ip('netns', 'del', name));
    }
    for (const line of ip('-o', 'link', 'show').split('\n')) {
      const link = /^\d+: ([^:@]+)[@:]/.exec(line)?.[1];
      if (link?.startsWith(`${this.#prefix}-`)) quietly(() => ip('link', 'del', link));
    }
  }

  create(): void {
    this.destroy();
    ip('link', 'add', this.bridge, 'type', 'bridge');
    ip('addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (const [name, address] of this.addresses) {
      const ns = this.namespace(name);
      const veth = `${this.#prefix}-${name}-h`;
      ip('netns', 'add', ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', veth, 'master', this.bridge, 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  }

  /** Runs `svc ARGS` on host `name` (`ip netns exec` execs it: without `ownPids`, its pid is svc's own). */
  svc(name: string, args: string[], env: NodeJS.ProcessEnv, cwd = TOUR): Proc {
    return this.exec(name, [process.execPath, SVC_BIN, ...args], env, cwd);
  }

  /**
   * Runs a command on host `name`. With `ownPids`, the Proc's pid is that of
   * `unshare`, and the command's own is {@link commandPid}.
   */
  exec(name: string, command: string[], env: NodeJS.ProcessEnv, cwd = TOUR): Proc {
    const wrapped = this.#ownPids
      ? ['unshare', '--pid', '--mount-proc', '--kill-child', '--', ...command]
      : command;
    const child = spawn('ip', ['netns', 'exec', this.namespace(name), ...wrapped], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Proc(child);
  }

  /** The pid, in this test's pid namespace, of the command a Proc of {@link exec} runs. */
  commandPid(p: Proc): number {
    if (!this.#ownPids) return p.pid;
    const pid = Number(
      execFileSync('pgrep', ['-P', String(p.pid)], { encoding: 'utf8' })
        .trim()
        .split('\n')[0],
    );
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`no command under ${p.pid}`);
    return pid;
  }
}

/**
 * A TCP forwarder on `host:0` to `target`: what makes a server that listens
 * on 127.0.0.1 only (RabbitMQ, the test's ZooKeeper) reachable from the
 * namespaces. With `tls`, it terminates TLS first (an amqps:// front).
 */
export async function forward(
  host: string,
  target: { host: string; port: number },
  makeServer: (onSocket: (s: Socket) => void) => Server = (on) => createServer(on),
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = makeServer((client) => {
    const upstream = connect(target);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
