import type { Command } from 'commander';
import { UsageError, connect, type ClusterClient } from '@svc/core';
import { renderOnce, runTop, sampleOnce } from '@svc/tail';
import { NO_SERVICES } from '../util.js';

interface TopFlags {
  once?: boolean;
  interval: string;
  window: string;
}

function milliseconds(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 100 || Number(text) > 3_600_000)
    throw new UsageError(`${flag} takes milliseconds between 100 and 3600000, got "${text}"`);
  return Number(text);
}

/** A service named on the command line that runs nowhere is a mistake, not an empty table. */
async function requireRunning(client: ClusterClient, services: readonly string[]): Promise<void> {
  if (services.length === 0) return;
  const running = await client.discover();
  const unknown = services.filter((s) => !running.has(s));
  if (unknown.length === 0) return;
  const names = unknown.map((s) => `"${s}"`).join(', ');
  const known = [...running.keys()].join(', ') || 'none';
  throw new UsageError(`no running instance of ${names} (running: ${known})`);
}

export default function top(program: Command): Command {
  return program
    .command('top')
    .description('Live dashboard of every instance: CPU, memory, loop lag, calls/s, latency')
    .argument('[services...]', 'services shown (default: every service)')
    .option('--once', 'print the tables once as plain text and exit')
    .option('--interval <ms>', 'refresh period of the dashboard', '1000')
    .option('--window <ms>', 'with --once: time between the two readings rates come from', '1000')
    .addHelpText(
      'after',
      `
Views (Tab switches): one row per instance; one row per RPC method, event
handler, HTTP route and timer over all instances. Keys: ←/→ or 1-9 sort
by a column (again: reverse), r reverses, q quits.`,
    )
    .action(async (services: string[], flags: TopFlags) => {
      const interval = milliseconds(flags.interval, '--interval');
      const windowMs = milliseconds(flags.window, '--window');
      if (!flags.once && !(process.stdout.isTTY && process.stdin.isTTY))
        throw new UsageError('svc top needs a terminal; use svc top --once for plain text');
      const client = await connect({ name: 'svc-top' });
      try {
        await requireRunning(client, services);
        if (flags.once) {
          // As svc discover says it: two empty tables look like a cluster whose figures failed.
          if (services.length === 0 && (await client.discover()).size === 0) {
            process.stderr.write(`${NO_SERVICES}\n`);
            return;
          }
          process.stdout.write(renderOnce(await sampleOnce(client, { services, windowMs })));
        } else {
          await runTop({
            client,
            services,
            interval,
            title: process.env['SVC_CLUSTER'] ?? 'default',
          });
        }
      } finally {
        await client.close();
      }
    });
}
