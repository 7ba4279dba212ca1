import { ConfigError } from '@svc/core';
import { loadConfig, type InstanceConfig } from './config.js';
import { controlSocketPath, serveControl, type NodeStatus } from './control.js';
import { serveClusterMetrics, type ClusterMetrics } from './metrics.js';
import { createOutput } from './output.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';
import { TypeChecks } from './typecheck.js';
import { watchInstances } from './watch.js';

/** Options of {@link runNode}, as `svc node` passes them. */
export interface RunNodeOptions extends Partial<SupervisorOptions> {
  configFile: string;
  watch?: boolean;
  /** colour the prefixes (a terminal) */
  color?: boolean;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /**
   * Runs once before the first process starts (the CLI compiles the
   * instances' TypeScript service files here, once instead of once per
   * process). It should not throw: its failures are for the processes to report.
   */
  prepare?: (instances: readonly InstanceConfig[]) => Promise<void>;
  /**
   * With `watch`: type-check the projects of the instances (their nearest
   * tsconfig.json) at start and after each change, beside the reload, with
   * `svcCommand`'s `svc check` (default: on when there is a `svcCommand`).
   */
  typeCheck?: boolean;
}

const SECOND_SIGNAL_AFTER_MS = 500;

/** Exit status after a forced shutdown (second Ctrl-C). */
export const EXIT_FORCED = 130;

/**
 * Runs the cluster of a `.svc.yml` until SIGINT, SIGTERM or SIGHUP, then stops
 * it gracefully (a second signal forces it). Resolves with the exit status:
 * 0 after a graceful stop, {@link EXIT_FORCED} when forced. Throws a
 * ConfigError for a bad config or a socket that cannot be bound, and a
 * UsageError when a supervisor already runs for that config.
 */
export async function runNode(options: RunNodeOptions): Promise<number> {
  const config = loadConfig(options.configFile);
  // A closed terminal or pipe (`svc node | head`) must not take the cluster down.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const output = createOutput({
    names: config.instances.map((i) => i.name),
    color: options.color ?? false,
    stdout: options.stdout ?? ((t) => process.stdout.write(t)),
    stderr: options.stderr ?? ((t) => process.stderr.write(t)),
  });
  const startedAt = Date.now();
  const supervisor = new Supervisor(config, output, {
    ...options,
    runtimeFiles: [controlSocketPath(config.file)],
  });
  const control = await serveControl(config.file, async (req) => {
    if (req.cmd === 'restart') {
      output.note(`restart of ${req.name} requested`);
      await supervisor.restart(req.name);
      return null;
    }
    const status: NodeStatus = {
      config: config.file,
      pid: process.pid,
      startedAt,
      sockets: supervisor.socketAddresses(),
      processes: supervisor.status(),
    };
    return status;
  });
  let metrics: ClusterMetrics | undefined;
  try {
    if (config.metrics) {
      metrics = await serveClusterMetrics({
        ...config.metrics,
        cluster: supervisor.options.cluster,
        processes: () => supervisor.status(),
        onError: (err) => output.note(`metrics port: ${err.message}`),
      }).catch((err: unknown) => {
        throw new ConfigError(
          `${config.file}: metrics: cannot listen on ${config.metrics!.host}:${config.metrics!.port} (${(err as Error).message})`,
          { cause: err },
        );
      });
      output.note(`cluster metrics on ${metrics.url}/metrics`);
    }
    await options.prepare?.(config.instances);
    await supervisor.start();
  } catch (err) {
    supervisor.kill();
    control.close();
    await metrics?.close();
    throw err;
  }
  const total = config.instances.reduce((n, i) => n + i.numprocesses, 0);
  output.note(
    `running ${total} processes of ${config.instances.length} instances from ${config.file}`,
  );

  let watcher: ReturnType<typeof watchInstances> | undefined;
  let checks: TypeChecks | undefined;
  if (options.watch) {
    const svc = options.svcCommand;
    if (options.typeCheck !== false && svc && svc.length > 0) {
      checks = new TypeChecks([svc[0]!, ...svc.slice(1), 'check'], output);
    }
    const folderOf = new Map(config.instances.map((i) => [i.name, i.cwd]));
    watcher = watchInstances(config.instances, (names) => {
      for (const name of names) {
        output.note(`change in ${name}'s folder: rolling restart`);
        // A failed reload is already reported, and the old processes keep running.
        supervisor.restart(name).catch(() => {});
      }
      // Beside the reload, never before it: the check reports when it is done.
      checks?.check(names.map((n) => folderOf.get(n)!));
    });
    await watcher.ready;
    output.note(`watching ${[...new Set(config.instances.map((i) => i.cwd))].join(', ')}`);
    checks?.check(folderOf.values());
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    let firstAt = 0;
    const finish = (code: number) => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
      control.close();
      void (metrics?.close() ?? Promise.resolve()).finally(() => resolve(code));
    };
    const onSignal = (sig: NodeJS.Signals) => {
      // npm and npx forward the terminal's Ctrl-C to the program they run, so
      // one key press can arrive twice: only a later signal forces the stop.
      if (signals === 1 && Date.now() - firstAt < SECOND_SIGNAL_AFTER_MS) return;
      if (signals === 0) firstAt = Date.now();
      signals++;
      if (signals === 1) {
        output.note(
          `${sig}: stopping every process (grace ${supervisor.options.graceMs / 1000}s; Ctrl-C again to force)`,
        );
        void (async () => {
          checks?.close();
          await watcher?.close();
          await supervisor.stop();
          output.note('stopped');
          finish(0);
        })();
      } else if (signals === 2) {
        output.note(`${sig} again: killing every process now`);
        checks?.close();
        supervisor.kill();
        finish(EXIT_FORCED);
      }
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  });
}
