// What `svc tail --trace ID --no-follow` prints, piped, read back as a tree.
import { expect } from 'vitest';

/** One printed record: its service, how many levels it is indented, its message. */
export interface TreeRow {
  service: string;
  depth: number;
  msg: string;
}

/** The rows of the tree tail printed; every line must be one. */
export function treeRows(stdout: string): TreeRow[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => {
      // After the 12 characters of the trace id and two spaces: two spaces a level, then the message.
      const m = /^\S+ {2}(\w+)\/[0-9a-f]{8} +\w+ +[0-9a-f]{12} {2}( *)(\S.*?)(?: {2}\(.*)?$/.exec(
        l,
      );
      expect(m, l).not.toBeNull();
      return { service: m![1]!, depth: m![2]!.length / 2, msg: m![3]! };
    });
}

/** The message of the row `msg` hangs under: the nearest row above it one level out. */
export function parentIn(rows: TreeRow[], msg: string): string | undefined {
  const i = rows.findIndex((r) => r.msg === msg);
  expect(
    i,
    `${msg} in\n${rows.map((r) => `${'  '.repeat(r.depth)}${r.msg}`).join('\n')}`,
  ).toBeGreaterThanOrEqual(0);
  for (let k = i - 1; k >= 0; k--) if (rows[k]!.depth === rows[i]!.depth - 1) return rows[k]!.msg;
  return undefined;
}
