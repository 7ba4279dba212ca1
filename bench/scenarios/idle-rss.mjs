// Idle RSS: one `svc instance` of the lymph tour's Greeting service (embedded
// backends, TypeScript loaded through tsx as users run it) against one
// Moleculer broker with one service on the TCP transporter, each measured
// two seconds after it is ready. Lower is better; the target is < 70 MB.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, settings } from '../lib/measure.mjs';
import { freePort, start } from '../lib/proc.mjs';

const svcBin = fileURLToPath(new URL('../../packages/cli/bin/svc.js', import.meta.url));
const greeting = fileURLToPath(
  new URL('../../examples/lymph-tour/conf/greeting.yml', import.meta.url),
);
const settleMs = 2000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
  return kb / 1024;
}

async function svcInstance() {
  // A registry directory of its own: nothing is shared with other clusters on the machine.
  const dir = mkdtempSync(join(tmpdir(), 'svc-bench-'));
  const child = spawn(process.execPath, [svcBin, 'instance', '--config', greeting], {
    env: {
      ...process.env,
      SVC_LOCAL_REGISTRY_DIR: dir,
      SVC_CLUSTER: 'bench',
      SVC_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // The instance is ready when its record is in the registry directory.
    const deadline = Date.now() + 20_000;
    while (!hasRecord(dir)) {
      if (child.exitCode !== null) throw new Error(`svc instance exited: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`svc instance not registered in 20 s: ${stderr}`);
      await sleep(50);
    }
    await sleep(settleMs);
    return rssMb(child.pid);
  } finally {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    if (child.exitCode === null) await once(child, 'exit');
    clearTimeout(t);
    rmSync(dir, { recursive: true, force: true });
  }
}

function hasRecord(dir) {
  return readdirSync(dir, { recursive: true }).some((p) => String(p).includes('Greeting'));
}

async function moleculerBroker() {
  const ports = [await freePort(), await freePort()];
  const srv = await start('baselines/moleculer-server.mjs', ports.map(String));
  try {
    await sleep(settleMs);
    return rssMb(srv.pid);
  } finally {
    await srv.stop();
  }
}

export default [
  {
    name: 'idle RSS per instance',
    async run() {
      const svc = [];
      const mol = [];
      for (let r = 0; r < settings.runs; r++) {
        svc.push(await svcInstance());
        mol.push(await moleculerBroker());
      }
      return {
        rows: [
          {
            scenario: 'idle RSS per instance (target < 70)',
            unit: 'MB',
            lowerIsBetter: true,
            svc: { rate: median(svc) },
            baseline: { name: 'Moleculer broker', rate: median(mol) },
          },
        ],
      };
    },
  },
];
