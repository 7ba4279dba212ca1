import { loadInstanceConfig } from '@svc/core';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { maskSecrets } from '../mask.js';
import { out } from '../util.js';

export default function config(program: Command): Command {
  return program
    .command('config')
    .description(
      'Print the resolved configuration of an instance (environment substituted, secrets masked)',
    )
    .argument('<file>', 'instance config, e.g. conf/greeting.yml')
    .option('--json', 'print as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const cfg = loadInstanceConfig(file);
      const { raw, ...resolved } = cfg;
      // Passwords in URLs and values under keys such as password, secret or token show as ***.
      const doc = maskSecrets({ ...resolved, document: raw });
      if (opts.json) out(JSON.stringify(doc, null, 2));
      // A value met twice is printed twice: no `&a1` anchors and `*a1` aliases.
      else out(stringify(doc, { aliasDuplicateObjects: false }).trimEnd());
    });
}
