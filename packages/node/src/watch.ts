import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { InstanceConfig } from './config.js';

const IGNORED_DIRS = new Set(['node_modules', 'dist', 'coverage']);

/** Whether a path under a watched folder is noise: dependencies, build output, dot-files and dot-folders. */
export function isIgnored(root: string, path: string): boolean {
  const rel = relative(root, path);
  if (rel === '' || rel.startsWith('..')) return false;
  return rel.split(sep).some((part) => part.startsWith('.') || IGNORED_DIRS.has(part));
}

/**
 * Watches each instance's folder and calls `onChange` with the names of the
 * instances whose folder changed, once a burst of changes has settled.
 */
export function watchInstances(
  instances: readonly InstanceConfig[],
  onChange: (names: string[]) => void,
  debounceMs = 300,
): { ready: Promise<void>; close(): Promise<void> } {
  const roots = [...new Set(instances.map((i) => i.cwd))];
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(roots, {
    ignoreInitial: true,
    ignored: (path: string) => roots.some((root) => isIgnored(root, path)),
  });
  watcher.on('all', (_event, path: string) => {
    for (const i of instances) {
      const rel = relative(i.cwd, path);
      if (!rel.startsWith('..') && !isIgnored(i.cwd, path)) pending.add(i.name);
    }
    if (pending.size === 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const names = [...pending];
      pending.clear();
      onChange(names);
    }, debounceMs);
  });
  watcher.on('error', () => {});
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    async close() {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}
