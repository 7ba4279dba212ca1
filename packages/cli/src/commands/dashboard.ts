import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError, loadInstanceConfig } from '@svc/core';
import { DEFAULT_PORT, startDashboard } from '@svc/dashboard';
import { clientFor, clusterOptions, out, type ClusterOptions } from '../util.js';

interface DashboardFlags extends ClusterOptions {
  port: string;
  node?: string;
}

function port(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new UsageError(`--port takes a TCP port from 0 to 65535, got "${text}"`);
  return Number(text);
}

export default function dashboard(program: Command): Command {
  return clusterOptions(
    program
      .command('dashboard')
      .description('Serve a web page of the running cluster on 127.0.0.1 (prints its address)')
      .option('-p, --port <port>', 'TCP port on 127.0.0.1 (0: any free one)', String(DEFAULT_PORT))
      .option(
        '--node <file>',
        'the .svc.yml of the svc node whose processes to show (default: ./.svc.yml when there is one)',
      )
      .addHelpText(
        'after',
        `
Open the printed address: it carries an access token after #token=, which
the page sends with every request. Requests without it, from other sites
(Origin) or under another host name (Host) are refused.

Views: services and instances, a service's interface, the API explorer
(call a method, emit an event), live logs, traces as waterfalls, metrics
charts, and the svc node's processes with rolling restarts.

Examples:
  svc dashboard
  svc dashboard --port 0 --node examples/lymph-tour/.svc.yml
  SVC_REGISTRY=zookeeper://127.0.0.1:2181/svc SVC_EVENTS=amqp://guest:guest@127.0.0.1:5672/ svc dashboard`,
      ),
  ).action(async (flags: DashboardFlags) => {
    const listen = port(flags.port);
    if (flags.node !== undefined && !existsSync(flags.node))
      throw new UsageError(`--node: no such file ${flags.node}`);
    const nodeConfig = flags.node ?? (existsSync('.svc.yml') ? '.svc.yml' : undefined);
    const cluster =
      flags.cluster ??
      (flags.config ? loadInstanceConfig(flags.config).cluster : undefined) ??
      'default';
    const client = await clientFor(flags, 'svc-dashboard');
    try {
      const running = await startDashboard({
        client,
        cluster,
        port: listen,
        ...(nodeConfig === undefined ? {} : { nodeConfig }),
      });
      out(`svc dashboard of cluster ${cluster}: ${running.url}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.close();
    } finally {
      await client.close();
    }
  });
}
