import { SvcError, UsageError } from '@svc/core';
import { Backoff } from '@svc/core/internal';
import { describeExit, spawnChild, type ChildProcess, type ExitInfo } from './child.js';
import type { ParsedCommand } from './command.js';
import type { InstanceConfig, NodeConfig } from './config.js';
import type { Output } from './output.js';
import { startReaper, type Reaper } from './reaper.js';
import { bindSocket, type BoundSocket } from './socket.js';

/** Timings and limits of a {@link Supervisor}; every field has a default. */
export interface SupervisorOptions {
  /** how long a stopping child may take after SIGTERM before SIGKILL (ms) */
  graceMs: number;
  /** a child that never writes `ready` counts as ready after this long (ms) */
  readyDelayMs: number;
  /** the first restart delay after a crash; doubled after each quick crash, each up to a fifth shorter at random (ms) */
  backoffMs: number;
  maxBackoffMs: number;
  /** a child that dies within this long of its start counts as a quick crash (ms) */
  minUptimeMs: number;
  /** this many quick crashes in a row and the process is held off */
  maxCrashes: number;
  /** the value of `SVC_CLUSTER` for children */
  cluster: string;
  /** replaces a leading `svc` in commands, e.g. [node, /path/to/svc.js] */
  svcCommand: readonly string[] | undefined;
  /** files the watchdog removes if this process dies without stopping (the control socket) */
  runtimeFiles: readonly string[];
}

export const DEFAULT_OPTIONS: SupervisorOptions = {
  graceMs: 5000,
  readyDelayMs: 1500,
  backoffMs: 250,
  maxBackoffMs: 15_000,
  minUptimeMs: 3000,
  maxCrashes: 5,
  cluster: process.env.SVC_CLUSTER || 'default',
  svcCommand: undefined,
  runtimeFiles: [],
};

// svc's exit status for a user's mistake, a bad config above all (EXIT_USAGE in the CLI's
// errors.ts), and many a tool's for a bad command line: restarting does not fix either.
const EXIT_USAGE = 2;

// Once a process of an instance has written `ready`, later ones are waited for
// that long: the instance evidently announces readiness, slowly or not.
const ANNOUNCED_READY_TIMEOUT_MS = 30_000;

/** Code of the error of a rolling restart that could not replace a process. */
export const RESTART_FAILED = 'SVC_ERR_NODE_RESTART_FAILED';

/** What `svc node status` shows for each managed process. */
export interface ProcessStatus {
  name: string;
  index: number;
  pid: number | null;
  /** starting, running, stopping, backoff (waiting to restart), held (crash loop), stopped */
  state: string;
  restarts: number;
  uptimeMs: number | null;
  /** why a held process is held, with its last line and what to do; only on a held process */
  reason?: string;
}

interface Slot {
  instance: InstanceConfig;
  index: number;
  child: ChildProcess | undefined;
  state: 'starting' | 'running' | 'backoff' | 'held' | 'stopped';
  restarts: number;
  quickCrashes: number;
  /** why the slot is held (with state 'held') */
  heldBecause: string | undefined;
  timer: NodeJS.Timeout | undefined;
  /** a replacement started by a rolling restart, not yet ready */
  candidate: ChildProcess | undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Runs every process of a `.svc.yml`: shared sockets, restarts with backoff
 * and a crash-loop guard, rolling restarts and graceful shutdown. A watchdog
 * process kills the children should this process die without stopping them.
 */
export class Supervisor {
  readonly options: SupervisorOptions;
  private readonly slots: Slot[] = [];
  private readonly sockets = new Map<string, BoundSocket>();
  private readonly stoppingChildren = new Set<ChildProcess>();
  private readonly announces = new Set<string>();
  private readonly rolling = new Map<string, Promise<void>>();
  private readonly rollAgain = new Set<string>();
  private readonly slotOf = new WeakMap<ChildProcess, Slot>();
  /** Each child's last non-empty stderr line: why a new process of a restart died, said to its caller. */
  private readonly lastError = new WeakMap<ChildProcess, () => string | undefined>();
  private readonly restartDelays: Backoff;
  private reaper: Reaper | undefined;
  private stopping = false;

  constructor(
    readonly config: NodeConfig,
    private readonly output: Output,
    options: Partial<SupervisorOptions> = {},
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
    this.restartDelays = new Backoff({
      initialMs: this.options.backoffMs,
      maxMs: this.options.maxBackoffMs,
    });
  }

  /** Binds the sockets (a ConfigError if one cannot be bound) and starts every process. */
  async start(): Promise<void> {
    try {
      for (const s of this.config.sockets) {
        const bound = bindSocket(s.host, s.port);
        this.sockets.set(s.name, bound);
        this.output.note(`socket ${s.name} bound on ${bound.host}:${bound.port}`);
      }
    } catch (err) {
      for (const s of this.sockets.values()) s.close();
      throw err;
    }
    this.reaper = startReaper(this.options.graceMs, this.options.runtimeFiles, (oldPid, newPid) =>
      this.output.note(
        `the watchdog (pid ${oldPid ?? '?'}) died: started a new one (pid ${newPid ?? '?'})`,
      ),
    );
    for (const instance of this.config.instances) {
      // `svc instance` says when it is ready: its first process is not taken for ready after
      // --ready-delay on a slow start (a config error exiting later is then held at once).
      if (runsSvcInstance(instance.parsed)) this.announces.add(instance.name);
      for (let index = 0; index < instance.numprocesses; index++) {
        const slot: Slot = {
          instance,
          index,
          child: undefined,
          state: 'starting',
          restarts: 0,
          quickCrashes: 0,
          heldBecause: undefined,
          timer: undefined,
          candidate: undefined,
        };
        this.slots.push(slot);
      }
    }
    // One spawn holds the event loop until its child has exec'd, which takes long on a busy
    // machine: started in one go, fifty held it for 19 s on one core, and the control socket
    // (svc node status, the dashboard) and the children's output waited. A turn of the loop
    // between two spawns serves them.
    const launches: Promise<void>[] = [];
    for (const slot of this.slots) {
      launches.push(this.launch(slot));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(launches);
  }

  /** The bound address of each shared socket. */
  socketAddresses(): { name: string; host: string; port: number }[] {
    return [...this.sockets].map(([name, s]) => ({ name, host: s.host, port: s.port }));
  }

  /** One row per managed process (a slot waiting to restart shows without a pid). */
  status(): ProcessStatus[] {
    const now = Date.now();
    const row = (slot: Slot, child: ChildProcess | undefined, state: string): ProcessStatus => ({
      name: slot.instance.name,
      index: slot.index,
      pid: child?.pid ?? null,
      state,
      restarts: slot.restarts,
      uptimeMs: child ? now - child.startedAt : null,
      ...(state === 'held' && slot.heldBecause !== undefined ? { reason: slot.heldBecause } : {}),
    });
    const rows: ProcessStatus[] = [];
    for (const slot of this.slots) {
      const live = slot.child && !slot.child.hasExited() ? slot.child : undefined;
      rows.push(row(slot, live, live && this.stoppingChildren.has(live) ? 'stopping' : slot.state));
      if (slot.candidate) rows.push(row(slot, slot.candidate, 'starting'));
      // The process a rolling restart replaced, until it is gone.
      for (const c of this.stoppingChildren) {
        if (c !== slot.child && this.slotOf.get(c) === slot) rows.push(row(slot, c, 'stopping'));
      }
    }
    return rows;
  }

  /**
   * Restarts every process of an instance one at a time: the new process is
   * started and ready before the old one is stopped, so a shared socket always
   * has a process accepting. When a new process dies before it is ready the
   * old one keeps running and the restart stops there, rejecting with a
   * SvcError whose code is {@link RESTART_FAILED}.
   */
  restart(name: string): Promise<void> {
    if (!this.slots.some((s) => s.instance.name === name)) {
      const names = [...new Set(this.slots.map((s) => s.instance.name))].join(', ');
      return Promise.reject(new UsageError(`no instance named ${name} (instances: ${names})`));
    }
    const running = this.rolling.get(name);
    if (running) {
      // A change during a reload: reload once more after this one.
      this.rollAgain.add(name);
      return running;
    }
    const run = (async () => {
      let failure: string | undefined;
      do {
        this.rollAgain.delete(name);
        failure = undefined;
        for (const slot of this.slots.filter((s) => s.instance.name === name)) {
          if (this.stopping) break;
          failure = await this.rollSlot(slot);
          if (failure) break;
        }
      } while (this.rollAgain.has(name) && !this.stopping);
      if (failure)
        throw new SvcError(`restart of ${name} failed: ${failure}`, { code: RESTART_FAILED });
    })().finally(() => this.rolling.delete(name));
    this.rolling.set(name, run);
    return run;
  }

  /** Replaces the process of one slot; resolves with why it failed, or undefined. */
  private async rollSlot(slot: Slot): Promise<string | undefined> {
    const label = `${slot.instance.name}.${slot.index}`;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.quickCrashes = 0;
    const old = slot.child && !slot.child.hasExited() ? slot.child : undefined;
    if (!old) {
      // Nothing to keep serving (held off, or waiting to restart): start it and wait for it.
      slot.restarts++;
      this.output.note(`${label}: starting (restart #${slot.restarts})`);
      await this.launch(slot);
      const child = slot.child;
      if (!child) return `${label} did not become ready`;
      if (await this.waitReady(slot, child)) return undefined;
      // Not ready means it exited: whoever asked gets why, as for a replacement below.
      const info = await child.exited;
      return `${label} (pid ${child.pid}) ${describeExit(info)} before it was ready${this.said(child)}`;
    }
    const fresh = await this.spawn(slot);
    if (!('pid' in fresh)) {
      const why = `${label}: the new process ${describeExit(fresh)}`;
      this.output.note(`${why}; the old one (pid ${old.pid}) keeps running`);
      return why;
    }
    slot.candidate = fresh;
    const ready = await this.waitReady(slot, fresh);
    slot.candidate = undefined;
    if (this.stopping) return 'the node is stopping';
    if (!ready) {
      const info = await fresh.exited;
      const why = `${label}: the new process (pid ${fresh.pid}) ${describeExit(info)} before it was ready`;
      if (slot.child) {
        this.output.note(`${why}; the old one (pid ${old.pid}) keeps running`);
      } else {
        // The old process died meanwhile too: back to the crash path (backoff, hold).
        this.crashed(slot, info, fresh.startedAt, fresh);
      }
      // The node's output shows the process's own lines; whoever asked for the restart
      // (`svc node restart`, in another terminal) gets its last one here.
      return `${why}${this.said(fresh)}`;
    }
    slot.child = fresh;
    slot.restarts++;
    slot.state = 'running';
    this.output.note(`${label}: reloaded, pid ${fresh.pid} is ready; stopping pid ${old.pid}`);
    await this.stopChild(old);
    return undefined;
  }

  /** Starts the process of a slot and marks it running once it is ready. */
  private async launch(slot: Slot): Promise<void> {
    if (this.stopping) return;
    slot.state = 'starting';
    slot.heldBecause = undefined;
    const child = await this.spawn(slot);
    if (!('pid' in child)) {
      this.crashed(slot, child, Date.now());
      return;
    }
    slot.child = child;
    void this.waitReady(slot, child).then((ready) => {
      if (ready && slot.child === child && slot.state === 'starting') slot.state = 'running';
    });
  }

  private async spawn(slot: Slot): Promise<ChildProcess | ExitInfo> {
    const name = slot.instance.name;
    const socket = this.sockets.get(name);
    let lastError: string | undefined;
    const child = await spawnChild({
      instance: slot.instance,
      index: slot.index,
      cluster: this.options.cluster,
      socket: socket ? { fd: socket.fd, port: socket.port } : undefined,
      svcCommand: this.options.svcCommand,
      onLine: (stream, line) => {
        if (stream === 'stderr' && line.trim() !== '') lastError = line;
        this.output.line(name, slot.index, stream, line);
      },
    });
    if (!('pid' in child)) return child;
    this.slotOf.set(child, slot);
    this.lastError.set(child, () => lastError);
    if (this.stopping) child.signal('SIGKILL');
    this.reaper?.add(child.pid);
    this.output.note(`${name}.${slot.index} started (pid ${child.pid})`);
    void child.announced.then((yes) => {
      if (yes) this.announces.add(name);
    });
    void child.exited.then((info) => this.exited(slot, child, info));
    return child;
  }

  /** `; it said: <its last stderr line>`, or nothing when it wrote none. */
  private said(child: ChildProcess): string {
    const line = this.lastError.get(child)?.();
    return line === undefined ? '' : `; it said: ${plain(line).slice(0, 500)}`;
  }

  private async waitReady(slot: Slot, child: ChildProcess): Promise<boolean> {
    const delay = this.announces.has(slot.instance.name)
      ? ANNOUNCED_READY_TIMEOUT_MS
      : this.options.readyDelayMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(!child.hasExited()), delay);
    });
    try {
      return await Promise.race([child.announced, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private exited(slot: Slot, child: ChildProcess, info: ExitInfo): void {
    // Whatever the child left in its group goes with it.
    child.signal('SIGKILL');
    this.reaper?.remove(child.pid);
    if (this.stoppingChildren.delete(child)) return;
    if (slot.candidate === child || slot.child !== child) return;
    if (this.stopping) {
      slot.state = 'stopped';
      return;
    }
    this.crashed(slot, info, child.startedAt, child);
  }

  /** `child` is undefined when the command could not be started at all. */
  private crashed(slot: Slot, info: ExitInfo, startedAt: number, child?: ChildProcess): void {
    const label = `${slot.instance.name}.${slot.index}`;
    const uptime = Date.now() - startedAt;
    const pid = child?.pid;
    // A process that had not become ready yet (the slot still starting) ended its start.
    const beforeReady = slot.state === 'starting';
    slot.child = undefined;
    if (slot.candidate) {
      // A rolling restart is already starting this slot's replacement.
      slot.state = 'starting';
      this.output.note(
        `${label} (pid ${pid ?? '?'}) ${describeExit(info)} while its replacement starts`,
      );
      return;
    }
    slot.quickCrashes = uptime < this.options.minUptimeMs ? slot.quickCrashes + 1 : 0;
    const who = pid === undefined ? label : `${label} (pid ${pid})`;
    const what = `${who} ${describeExit(info)} after ${(uptime / 1000).toFixed(1)}s`;
    const said = child ? this.said(child) : '';
    const restartCommand = `\`svc node restart ${slot.instance.name}\``;
    // Only before it is ready: a process that served a while and then exits 2 may have met
    // something passing, and restarts like any crash (and is held after maxCrashes of them).
    if (info.code === EXIT_USAGE && beforeReady) {
      slot.state = 'held';
      slot.heldBecause = `${describeExit(info)} before it was ready (a config or usage error)${said}; fix the config, then run ${restartCommand}`;
      this.output.note(
        `${what} before it was ready: held off at once (a config or usage error)${said}; fix the config, then run ${restartCommand}`,
      );
      return;
    }
    if (slot.quickCrashes >= this.options.maxCrashes) {
      slot.state = 'held';
      slot.heldBecause = `${describeExit(info)}, ${slot.quickCrashes} quick crashes in a row${said}; run ${restartCommand} once fixed`;
      this.output.note(
        `${what}; it crashed ${slot.quickCrashes} times in a row within ${this.options.minUptimeMs / 1000}s of starting: held off (run ${restartCommand} once fixed)${said}`,
      );
      return;
    }
    const delay = this.restartDelays.delay(slot.quickCrashes - 1);
    slot.state = 'backoff';
    slot.restarts++;
    this.output.note(`${what}; restart #${slot.restarts} in ${delay} ms`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      void this.launch(slot);
    }, delay);
  }

  /** SIGTERM to the child's group, SIGKILL after the grace period; resolves once it is gone. */
  private async stopChild(child: ChildProcess): Promise<void> {
    if (child.hasExited()) return;
    this.stoppingChildren.add(child);
    child.signal('SIGTERM');
    const gone = await Promise.race([
      child.exited.then(() => true),
      sleep(this.options.graceMs).then(() => false),
    ]);
    if (!gone) {
      this.output.note(
        `pid ${child.pid} still running ${this.options.graceMs / 1000}s after SIGTERM: SIGKILL`,
      );
      child.signal('SIGKILL');
      await child.exited;
    }
  }

  private liveChildren(): ChildProcess[] {
    const all = new Set<ChildProcess>(this.stoppingChildren);
    for (const s of this.slots) {
      if (s.child) all.add(s.child);
      if (s.candidate) all.add(s.candidate);
    }
    return [...all].filter((c) => !c.hasExited());
  }

  /** Stops every process gracefully (see {@link SupervisorOptions.graceMs}) and frees the sockets. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      clearTimeout(s.timer);
      s.timer = undefined;
    }
    await Promise.all(this.liveChildren().map((c) => this.stopChild(c)));
    for (const s of this.slots) s.state = 'stopped';
    this.release();
  }

  /** Kills every process group at once (a second Ctrl-C). */
  kill(): void {
    this.stopping = true;
    for (const c of this.liveChildren()) {
      c.signal('SIGKILL');
      this.reaper?.remove(c.pid);
    }
    this.release();
  }

  private release(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    this.reaper?.close();
  }
}

/** A line of a child's output without its colours (SGR sequences), trimmed. */
function plain(line: string): string {
  return line.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '').trim();
}

/** Whether a command runs `svc instance`, which announces its readiness. */
function runsSvcInstance(command: ParsedCommand): boolean {
  return command.kind === 'argv' && command.file === 'svc' && command.args[0] === 'instance';
}
