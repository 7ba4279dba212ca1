import {
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, TestEnv, type LogLine, type Proc } from './support/svc.js';

// Same-host `net` calls go over a unix socket in `$XDG_RUNTIME_DIR/svc-<uid>`;
// an instance killed with SIGKILL leaves its file there. Each test here gets a
// runtime folder of its own, so the files it counts are its instances' only,
// and what the instances sweep is nobody else's.

/** The `net` unix socket files in `folder`, by name. */
function socketFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((n) => /^rpc-.*\.sock$/.test(n))
    .sort();
}

/** Whether something listens on the unix socket at `path` (a connection is accepted). */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until `check` holds, or fails saying `what` after 15 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The record an instance logs at the end of its sweep of stale unix sockets. */
const sweepRecord = (l: LogLine) =>
  /stale unix socket/.test(l.msg) && typeof l['looked'] === 'number';
const swept = (proc: Proc) => proc.hasLog(sweepRecord);

describe('stale unix socket files of killed instances', () => {
  let env: TestEnv;
  let runtime: string;
  let folder: string;
  let extra: Record<string, string>;

  beforeAll(() => requireBuild());

  afterEach(async () => {
    await env.stop();
    rmSync(runtime, { recursive: true, force: true });
  });

  /** A cluster and a runtime folder of the test's own (the instances make `svc-<uid>` in it). */
  function freshRuntime(): void {
    env = new TestEnv();
    runtime = mkdtempSync(join(tmpdir(), 'svc-xdg-'));
    folder = join(runtime, `svc-${process.getuid!()}`);
    extra = { XDG_RUNTIME_DIR: runtime, SVC_LOG_LEVEL: 'debug' };
  }

  /** Starts a Greeting instance on `net` RPC and returns it with its socket file's name. */
  async function greeting(): Promise<{ proc: Proc; file: string }> {
    const before = existsSync(folder) ? socketFiles(folder) : [];
    const proc = await env.instance('conf/greeting.yml', { env: { ...extra, SVC_RPC: 'net' } });
    const added = socketFiles(folder).filter((n) => !before.includes(n));
    expect(added).toHaveLength(1);
    return { proc, file: added[0]! };
  }

  async function kill(proc: Proc): Promise<void> {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  /**
   * Dates the file at `path` a minute back: a sweep leaves files bound in its
   * last two seconds (they may be a server's between its bind and its listen).
   */
  function leftLongAgo(path: string): void {
    const aMinuteAgo = new Date(Date.now() - 60_000);
    utimesSync(path, aMinuteAgo, aMinuteAgo);
  }

  async function greet(name: string): Promise<string> {
    const { code, stdout, stderr } = await env.run(
      ['request', '--json', 'Greeting.greet', JSON.stringify({ name })],
      { env: extra },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    return JSON.parse(stdout) as string;
  }

  it('removes the socket file a SIGKILLed instance left when another instance starts', async () => {
    freshRuntime();
    const dead = await greeting();
    await kill(dead.proc);
    // SIGKILL gives the process no chance to remove its file: it stays, nobody listening.
    expect(socketFiles(folder)).toEqual([dead.file]);
    expect(await listening(join(folder, dead.file))).toBe(false);
    leftLongAgo(join(folder, dead.file));

    const live = await greeting();
    await until(() => !existsSync(join(folder, dead.file)), 'the stale file to be removed');
    await live.proc.waitFor(swept, 'the sweep of stale unix sockets');
    expect(socketFiles(folder)).toEqual([live.file]);
    expect(await listening(join(folder, live.file))).toBe(true);
    // Same-host calls still reach the live instance.
    expect(await greet('Ann')).toBe('Hi, Ann!');
    const record = live.proc.logs().find(sweepRecord);
    expect(record).toMatchObject({ removed: 1 });
  });

  it("never removes a live instance's socket file, nor anything that is not a stale socket", async () => {
    freshRuntime();
    const first = await greeting();
    const dead = await greeting();
    await kill(dead.proc);
    leftLongAgo(join(folder, dead.file));
    // A live listener that is not an instance, a plain file, and a symlink to the stale socket.
    const foreign = net.createServer();
    const foreignPath = join(folder, 'rpc-foreign-listener.sock');
    await new Promise<void>((resolve) => foreign.listen(foreignPath, resolve));
    const plain = join(folder, 'rpc-plain-file.sock');
    writeFileSync(plain, 'not a socket');
    const link = join(folder, 'rpc-a-symlink.sock');
    symlinkSync(join(folder, dead.file), link);
    try {
      const second = await greeting();
      await second.proc.waitFor(swept, 'the sweep of stale unix sockets');
      await until(() => !existsSync(join(folder, dead.file)), 'the stale file to be removed');

      expect(socketFiles(folder)).toEqual(
        [
          first.file,
          second.file,
          'rpc-a-symlink.sock',
          'rpc-foreign-listener.sock',
          'rpc-plain-file.sock',
        ].sort(),
      );
      expect(await listening(join(folder, first.file))).toBe(true);
      expect(await listening(join(folder, second.file))).toBe(true);
      expect(await listening(foreignPath)).toBe(true);
      // Same-host calls still reach the live instances.
      for (const name of ['Ann', 'Bo', 'Cy', 'Di']) expect(await greet(name)).toBe(`Hi, ${name}!`);
      // The first instance swept too as it started: it found nothing stale then.
      expect(first.proc.logs().find(sweepRecord)).toMatchObject({ removed: 0 });
      expect(second.proc.logs().find(sweepRecord)).toMatchObject({ removed: 1 });
    } finally {
      await new Promise((resolve) => foreign.close(resolve));
    }
  });
});
