import type { Command } from 'commander';
import { clusterOptions, NO_SERVICES, out, withClient, type ClusterOptions } from '../util.js';

export default function discover(program: Command): Command {
  return clusterOptions(
    program
      .command('discover')
      .description('Show available services')
      .option('--instances', 'list each instance: id, pid, host, endpoints')
      .option('--json', 'print the instances as JSON'),
  ).action(async (opts: ClusterOptions & { instances?: boolean; json?: boolean }) => {
    const services = await withClient(opts, (client) => client.discover());
    if (opts.json) {
      out(JSON.stringify(Object.fromEntries(services), null, 2));
      return;
    }
    if (services.size === 0) {
      process.stderr.write(`${NO_SERVICES}\n`);
      return;
    }
    for (const [name, instances] of services) {
      out(`${name} [${instances.length}]`);
      if (!opts.instances) continue;
      for (const r of instances) {
        const endpoints = Object.entries(r.endpoints)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        out(`  ${r.id}  pid ${r.pid}  ${r.host}  ${endpoints}`);
      }
    }
  });
}
