import type { MethodDescription, ServiceDescription } from '@svc/core';
import type { Command } from 'commander';
import { clusterOptions, milliseconds, out, withClient, type ClusterOptions } from '../util.js';

function signature(prefix: string, m: MethodDescription): string {
  const params = m.params
    .map((p) => `${p.name}${p.optional ? '?' : ''}${p.type ? `: ${p.type}` : ''}`)
    .join(', ');
  return `${prefix}${m.name}(${params})`;
}

function indentDoc(doc: string | undefined): string[] {
  return doc ? doc.split('\n').map((l) => `    ${l}`) : [];
}

/** The interface of a service as `svc inspect` prints it. */
export function formatDescription(d: ServiceDescription): string[] {
  const lines = [`RPC interface of ${d.service}`, ''];
  for (const m of d.rpc) lines.push(`rpc ${signature(`${d.service}.`, m)}`, ...indentDoc(m.doc));
  for (const m of d.builtins) lines.push(`rpc ${signature('', m)}`, ...indentDoc(m.doc));
  if (d.events.length > 0) {
    lines.push('', 'Events handled');
    for (const e of d.events) {
      lines.push(
        `event ${e.source ? `${e.source}.` : ''}${e.type} -> ${d.service}.${e.handler} (${e.mode})`,
      );
    }
  }
  if (d.http.length > 0) {
    lines.push('', 'HTTP routes');
    for (const h of d.http) lines.push(`http ${h.method} ${h.path} -> ${d.service}.${h.handler}`);
  }
  if (d.timers.length > 0) {
    lines.push('', 'Timers');
    for (const t of d.timers)
      lines.push(
        `timer every ${t.interval} ms${t.eager ? ' (eager)' : ''} -> ${d.service}.${t.handler}`,
      );
  }
  return lines;
}

export default function inspectCommand(program: Command): Command {
  return clusterOptions(
    program
      .command('inspect')
      .description('Describes the RPC interface of a service')
      .argument('<service>', 'service name, e.g. Greeting')
      .option('--timeout <ms>', 'fail after this many milliseconds', milliseconds, 5000)
      .option('--json', 'print the description as JSON'),
  ).action(async (service: string, opts: ClusterOptions & { timeout: number; json?: boolean }) => {
    const description = await withClient(opts, (client) =>
      client.inspect(service, { timeout: opts.timeout }),
    );
    if (opts.json) out(JSON.stringify(description, null, 2));
    else for (const line of formatDescription(description)) out(line);
  });
}
