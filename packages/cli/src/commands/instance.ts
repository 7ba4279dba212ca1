import { Instance, loadInstanceConfig, type InstanceExtension, type LogSink } from '@svc/core';
import { setModuleImporter } from '@svc/core/internal';
import type { Command } from 'commander';
import { importModule, readDocs } from '../typescript.js';

/**
 * Extra parts every instance started by the CLI runs (the log stream of
 * `svc tail`); resolved lazily so that `svc instance` works before they exist.
 */
async function instanceParts(): Promise<{ sinks: LogSink[]; extensions: InstanceExtension[] }> {
  const { createLogStream } = await import('@svc/tail');
  const logs = createLogStream();
  return { sinks: [logs], extensions: [logs] };
}

export default function instance(program: Command): Command {
  return program
    .command('instance')
    .description('Run a single service instance (one process)')
    .requiredOption('-c, --config <file>', 'instance config, e.g. conf/greeting.yml')
    .option(
      '--stop-grace <ms>',
      'how long a graceful stop keeps answering after unregistering',
      '300',
    )
    .addHelpText(
      'after',
      `
Runs the services listed under "interfaces:" of the config in this process,
registers them, and serves until SIGINT or SIGTERM (then it unregisters,
lets running work finish and exits 0; a second signal exits at once).
TypeScript service files are loaded directly.

Log records go to stderr in batches: a record is written at most 10 ms
after it was made, a warning or an error at once (with every record before
it), and whatever is left when the process exits, crashes or is stopped.
The record of each call that succeeded ("rpc Greeting.greet ok", with its
duration and trace id) is kept in the instance's history and log stream
(svc tail, svc tail --trace, svc dashboard) but not printed, unless the
config says "log: { calls: output }" (or SVC_LOG_CALLS=output).

Environment: SVC_CLUSTER, SVC_REGISTRY, SVC_RPC, SVC_EVENTS (when the config
uses them), SVC_LOG_FORMAT=pretty|json, SVC_LOG_LEVEL, SVC_LOG_CALLS=history|output,
SVC_LOG_COLOR=0|1.`,
    )
    .action(async (opts: { config: string; stopGrace: string }) => {
      const config = loadInstanceConfig(opts.config);
      // TypeScript service files are compiled, not loaded through a loader thread.
      setModuleImporter(importModule);
      const { sinks, extensions } = await instanceParts();
      const { terminalSink } = await import('@svc/core');
      const inst = new Instance({
        config,
        sinks: [terminalSink(process.stderr, { calls: config.log.calls === 'output' }), ...sinks],
        extensions,
        // Doc comments for `svc inspect`, read by the compile step from each service's source.
        docs: readDocs,
      });

      // A closed stdout or stderr (`svc instance ... 2>&1 | head -1`) fails every later
      // write with EPIPE: as an uncaught error, logged to that same stderr, it spun
      // the process at 70 % CPU, past SIGTERM. Output to a gone stream is dropped.
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
      process.on('unhandledRejection', (reason) => {
        inst.log.error(
          `unhandled promise rejection: ${(reason as Error)?.message ?? String(reason)}`,
          {
            stack: (reason as Error)?.stack,
          },
        );
      });
      let fatal = false;
      process.on('uncaughtException', (err) => {
        // One is enough to stop: another one while stopping (or from logging the
        // first) is not logged again, so that no error can feed on itself.
        if (fatal) return;
        fatal = true;
        inst.log.error(`uncaught exception, stopping: ${err.message}`, { stack: err.stack });
        exitAfter(2 * config.stopTimeout + EXIT_MARGIN_MS, 1);
        void inst.stop().finally(() => process.exit(1));
      });

      await inst.start();
      await new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = () => {
          signals++;
          if (signals > 1) {
            void inst.kill().finally(() => process.exit(1));
            return;
          }
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      const graceMs = Number(opts.stopGrace) || 0;
      // HTTP and the workers each get the stop timeout; past both, the stop has failed.
      exitAfter(graceMs + 2 * config.stopTimeout + EXIT_MARGIN_MS, 1);
      await inst.stop({ graceMs });
      // Stopped: a handle left open (a user's timer, a socket) does not keep the process alive.
      exitAfter(EXIT_MARGIN_MS, 0);
    });
}

/** Time allowed on top of the stop timeout for the backends to close and the logs to flush. */
const EXIT_MARGIN_MS = 2000;

/** Exits with `code` after `ms` unless the process has ended by itself. */
function exitAfter(ms: number, code: number): void {
  setTimeout(() => process.exit(code), ms).unref();
}
