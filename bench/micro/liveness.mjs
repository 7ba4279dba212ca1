// Microbenchmark of the same-host liveness check a ZooKeeper registry runs
// every 250 ms for each record of the services it watches (`deathOf`): a
// process whose stat showed it alive lately is checked by signal 0 alone
// (`STAT_RECHECK_MS`), the rest read `/proc/<pid>/stat` (open, read, close).
// Usage, after `pnpm build` at the root (Linux):
//   pnpm --dir bench exec node micro/liveness.mjs
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { deathOf, processStartTime, STAT_RECHECK_MS } from '@svc/core/internal';

const n = Number(process.env.BENCH_CHECKS ?? 50_000);
const runs = Number(process.env.BENCH_RUNS ?? 5);

const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
await once(child, 'spawn');
const pid = child.pid;
const start = await processStartTime(pid);
if (start === undefined) throw new Error('no /proc here: the check has nothing to read');
// A start time the process does not have: never seen alive, so every check reads the stat.
const other = String(Number(start) + 1);

function cpuUsPerCheck(startTime) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) deathOf(pid, startTime);
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / n;
}

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const read = [];
const signalOnly = [];
for (let r = 0; r < runs; r++) {
  read.push(cpuUsPerCheck(other));
  // Seen alive by the first check; the rest, within STAT_RECHECK_MS, send signal 0 only.
  signalOnly.push(cpuUsPerCheck(start));
}
child.kill('SIGKILL');
console.log(`liveness check, CPU µs a check (median of ${runs} runs of ${n}):`);
console.log(`  stat read every time:                 ${median(read).toFixed(2)}`);
console.log(
  `  seen alive within ${STAT_RECHECK_MS} ms (signal 0): ${median(signalOnly).toFixed(2)}`,
);
