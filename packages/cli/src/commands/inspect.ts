import type { MethodDescription, ServiceDescription } from '@svc/core';
import { clean } from '@svc/tail';
import type { Command } from 'commander';
import {
  clusterOptions,
  explainCallError,
  milliseconds,
  out,
  withClient,
  type ClusterOptions,
} from '../util.js';

// Everything printed here came over the wire: control characters are escaped.

function signature(prefix: string, m: MethodDescription): string {
  const params = m.params
    .map((p) => `${p.name}${p.optional ? '?' : ''}${p.type ? `: ${p.type}` : ''}`)
    .join(', ');
  // A streaming method is read with .stream(): its items come one by one.
  const stream = m.stream === true ? ' -> stream' : '';
  // Safe to repeat: a call cut by its instance's death is sent to another one.
  const idempotent = m.idempotent === true ? ' (idempotent)' : '';
  return clean(`${prefix}${m.name}(${params})${stream}${idempotent}`);
}

function indentDoc(doc: string | undefined, indent = '    '): string[] {
  return doc ? doc.split('\n').map((l) => `${indent}${clean(l)}`.trimEnd()) : [];
}

/** A method's doc, then each documented parameter's: `- name: doc`. */
function methodDocs(m: MethodDescription): string[] {
  const lines = indentDoc(m.doc);
  // Nameko's sensitive_arguments: what logs, spans and hooks show as ********.
  if (Array.isArray(m.sensitive) && m.sensitive.length > 0)
    lines.push(clean(`    sensitive: ${m.sensitive.map(String).join(', ')}`));
  for (const p of m.params) {
    if (p.doc === undefined) continue;
    const [first = '', ...rest] = p.doc.split('\n');
    lines.push(
      `    - ${clean(p.name)}: ${clean(first)}`.trimEnd(),
      ...indentDoc(rest.join('\n'), '      '),
    );
  }
  return lines;
}

/** The interface of a service as `svc inspect` prints it. */
export function formatDescription(d: ServiceDescription): string[] {
  const lines = [`RPC interface of ${clean(d.service)}`, ...indentDoc(d.doc, '  '), ''];
  for (const m of d.rpc) lines.push(`rpc ${signature(`${d.service}.`, m)}`, ...methodDocs(m));
  for (const m of d.builtins) lines.push(`rpc ${signature('', m)}`, ...methodDocs(m));
  if (d.events.length > 0) {
    lines.push('', 'Events handled');
    for (const e of d.events) {
      lines.push(
        clean(
          `event ${e.source ? `${e.source}.` : ''}${e.type} -> ${d.service}.${e.handler} (${e.mode})`,
        ),
        ...indentDoc(e.doc),
      );
    }
  }
  if (d.http.length > 0) {
    lines.push('', 'HTTP routes');
    for (const h of d.http) {
      lines.push(
        clean(`http ${h.method} ${h.path} -> ${d.service}.${h.handler}`),
        ...indentDoc(h.doc),
      );
    }
  }
  if (d.timers.length > 0) {
    lines.push('', 'Timers');
    for (const t of d.timers)
      lines.push(
        clean(
          `timer every ${t.interval} ms${t.eager ? ' (eager)' : ''} -> ${d.service}.${t.handler}`,
        ),
        ...indentDoc(t.doc),
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
    const description = await withClient(opts, async (client) => {
      try {
        return await client.inspect(service, { timeout: opts.timeout });
      } catch (err) {
        throw await explainCallError(err, client, service);
      }
    });
    if (opts.json) out(JSON.stringify(description, null, 2));
    else for (const line of formatDescription(description)) out(line);
  });
}
