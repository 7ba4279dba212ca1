import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { alive, freePort, repoRoot } from './helpers.js';

/** The TCP addresses `pid` listens on, as `ss -ltnp` reports them (IPv4-mapped ones unwrapped). */
function listening(pid: number): string[] {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[3]!)
    .map((address) => address.replace(/^\[::ffff:([\d.]+)\]/, '$1'))
    .sort();
}

it('starts ZooKeeper listening on its loopback client port only, with no JMX port', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'svc-zk-script-'));
  const port = await freePort();
  let pid = 0;
  try {
    const out = execFileSync('bash', ['scripts/zookeeper.sh'], {
      cwd: repoRoot,
      env: { ...process.env, SVC_ZK_DIR: dir, SVC_ZK_PORT: String(port) },
      encoding: 'utf8',
    });
    expect(out).toContain(`zookeeper: started on 127.0.0.1:${port}`);
    pid = Number(readFileSync(join(dir, 'zookeeper.pid'), 'utf8').trim());
    expect(listening(pid)).toEqual([`127.0.0.1:${port}`]);
  } finally {
    if (pid > 0 && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
