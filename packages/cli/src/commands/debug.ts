import type { Command } from 'commander';
import { findInstance, instanceInspector, isElsewhere } from '@svc/tail';
import { clusterOptions, out, withClient, type ClusterOptions } from '../util.js';

export default function debug(program: Command): Command {
  return clusterOptions(
    program
      .command('debug')
      .description('Open the Node.js inspector of a running instance and print its DevTools URL')
      .argument(
        '<id>',
        'the instance (an id from svc discover --instances or svc top, or a unique prefix)',
      )
      .option('--close', 'close the inspector again')
      .option('--json', 'print the answer as JSON')
      .addHelpText(
        'after',
        `
The instance opens its inspector on 127.0.0.1, on a port the system picks,
and answers with its URLs: open the devtools:// one in Chrome (or attach
Chrome's chrome://inspect, VS Code's "Attach to Node Process" or any CDP
client to the ws:// one). An inspector asks no password: whoever reaches
its port runs code in the process. So the instance opens it only when its
config says  debug: { inspector: true }  (off by default), never on another
address than 127.0.0.1, and svc debug ID --close closes it. An instance on
another machine is reached through an SSH tunnel to that port.

Examples:
  svc debug 3f2a9c1e
  svc debug 3f2a9c1e --close`,
      ),
  ).action(async (id: string, opts: ClusterOptions & { close?: boolean; json?: boolean }) => {
    await withClient(opts, async (client) => {
      const target = await findInstance(client, id);
      const answer = await instanceInspector(client, target, opts.close ? { close: true } : {});
      if (opts.json) {
        out(JSON.stringify({ instance: target.id, ...answer }));
        return;
      }
      if ('closed' in answer) {
        out(
          answer.closed
            ? `closed the inspector of instance ${target.id} (pid ${answer.pid})`
            : `the inspector of instance ${target.id} was not open`,
        );
        return;
      }
      out(
        `${answer.opened ? 'opened' : 'already open:'} the inspector of instance ${target.id} (${target.services.join(', ')}, pid ${answer.pid})`,
      );
      out(`DevTools:  ${answer.devtools}`);
      out(`WebSocket: ${answer.url}`);
      if (isElsewhere(target)) {
        const port = /:(\d+)\//.exec(answer.url)?.[1] ?? 'PORT';
        out(
          `it listens on 127.0.0.1 of ${target.host}: ssh -L ${port}:127.0.0.1:${port} ${target.host}`,
        );
      }
      out(`close it with: svc debug ${target.id} --close`);
    });
  });
}
