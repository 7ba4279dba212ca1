import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, fixture } from './helpers.js';

let cluster: Cluster | undefined;
afterEach(() => {
  cluster?.cleanup();
  cluster = undefined;
});

const UNKNOWN_KEY = /svc: \S+\/bad\.yml: intrfaces: unknown key \(expected one of: [a-z_, ]+\)/
  .source;

describe('svc node and a config error', () => {
  it('holds a process that exits 2 before it is ready at once, and says why and what to do', async () => {
    cluster = new Cluster(`instances:
  Bad: { command: svc instance --config=bad.yml }
  Sleep: { command: node ${fixture('sleeper.mjs')} }
`);
    writeFileSync(join(cluster.dir, 'bad.yml'), 'registry: local\nintrfaces: {}\n');
    // `svc instance` says when it is ready: however short --ready-delay, a slow start that ends
    // in a config error is not taken for ready first (and restarted before it is held).
    cluster.start('--backoff', '50', '--ready-delay', '1');
    await cluster.waitOutput(/held off/);
    expect(cluster.output).toMatch(
      new RegExp(
        `Bad\\.0 \\(pid \\d+\\) exited with code 2 after [\\d.]+s before it was ready: held off at once \\(a config or usage error\\); it said: ${UNKNOWN_KEY}; fix the config, then run \`svc node restart Bad\``,
      ),
    );
    expect(cluster.output.match(/Bad\.0 started/g)).toHaveLength(1);
    expect(cluster.output).not.toMatch(/Bad\.0 .*restart #1/);

    const rows = await cluster.status();
    expect(rows[0]).toMatchObject({ name: 'Bad', pid: null, state: 'held', restarts: 0 });
    expect(rows[0]?.reason).toMatch(
      new RegExp(
        `^exited with code 2 before it was ready \\(a config or usage error\\); it said: ${UNKNOWN_KEY}; fix the config, then run \`svc node restart Bad\`$`,
      ),
    );
    // (Sleep never says it is ready: running once --ready-delay passed.)
    expect(rows[1]).toMatchObject({ name: 'Sleep', restarts: 0 });
    expect(rows[1]).not.toHaveProperty('reason');

    // `svc node status` shows the reason under the table.
    const status = cluster.svc('node', 'status');
    expect(status.status).toBe(0);
    const lines = status.stdout.trim().split('\n');
    expect(lines.slice(2, 4).map((l) => l.split(/ +/).slice(0, 5))).toEqual([
      ['Bad', '0', '-', 'held', '0'],
      [
        'Sleep',
        '0',
        expect.stringMatching(/^\d+$/),
        expect.stringMatching(/^(starting|running)$/),
        '0',
      ],
    ]);
    expect(lines.slice(4)).toEqual([`Bad.0 is held: ${rows[0]?.reason}`]);

    // Still broken, a manual restart says why it failed, and holds it again at once.
    const restart = cluster.svc('node', 'restart', 'Bad');
    expect(restart.status).toBe(1);
    expect(restart.stderr).toMatch(
      new RegExp(
        `^svc: restart of Bad failed: Bad\\.0 \\(pid \\d+\\) exited with code 2 before it was ready; it said: ${UNKNOWN_KEY}\\n$`,
      ),
    );
    await cluster.waitOutput(/held off[^]*held off/);
    expect(cluster.output.match(/Bad\.0 started/g)).toHaveLength(2);
  });

  it('restarts a process that exits 2 after it was ready, as any crash', async () => {
    cluster = new Cluster(`instances:
  Late: { command: node ${fixture('ready-then-usage.mjs')} }
`);
    cluster.start('--backoff', '50');
    await cluster.waitOutput(/Late\.0 \(pid \d+\) exited with code 2 after [\d.]+s; restart #2 in/);
    expect(cluster.output).not.toMatch(/held off/);
    expect(cluster.output).toMatch(/Late\.0 +\| giving up after running a while/);
  });
});
