// One contender = a server script and a client script. A figure is the
// median over several runs (fresh processes each) of several windows each.
import { execFileSync } from 'node:child_process';
import { cpuTimeUs, freePort, runClient, start } from './proc.mjs';

export const settings = {
  runs: Number(process.env.BENCH_RUNS ?? 3),
  // Two seconds: under load, V8 still compiles svc's hot paths for about the first second
  // (its optimising compiler's passes were among a profile's top functions), which a server
  // that runs for hours pays once; at 500 ms HTTP→RPC swung from 0.4x to 1.0x between runs.
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 2000),
  windowMs: Number(process.env.BENCH_WINDOW_MS ?? 1000),
  windows: Number(process.env.BENCH_WINDOWS ?? 2),
};

export function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Medians of rate and latency percentiles over windows. */
export function summarize(windows) {
  return {
    rate: median(windows.map((w) => w.rate)),
    p50: median(windows.map((w) => w.p50)),
    p99: median(windows.map((w) => w.p99)),
    cpuUs: median(windows.map((w) => w.cpuUs)),
  };
}

/**
 * A contender: an optional server script and a client script. `server(ports)`
 * gives [script, args]; the client gets the server's address, a second free
 * port (for peers that must know each other's ports) and the load settings.
 */
export function rpcContender(name, { server, client, url }) {
  return {
    name,
    async once(inflight, extra = {}) {
      const ports = [await freePort(), await freePort()];
      const srv = server ? await start(...server(ports)) : null;
      try {
        const cpu0 = srv ? cpuTimeUs(srv.pid) : 0;
        const result = await runClient(client, {
          address: srv?.value.address,
          peerPort: ports[1],
          url,
          inflight,
          ...extra,
          warmupMs: settings.warmupMs,
          windowMs: settings.windowMs,
          windows: settings.windows,
        });
        return withServerCpu(result, srv ? cpuTimeUs(srv.pid) - cpu0 : 0);
      } finally {
        await srv?.stop();
      }
    },
  };
}

/**
 * Runs contenders in turn, run after run (A B C, A B C...) so that drift in
 * the machine's load touches each alike; returns each one's summary.
 */
export async function interleave(contenders, arg) {
  const windows = contenders.map(() => []);
  for (let r = 0; r < settings.runs; r++) {
    for (const [i, c] of contenders.entries()) windows[i].push(...(await c.once(arg)));
  }
  return windows.map(summarize);
}

/**
 * Adds the servers' CPU time per call (over the whole run, warm-up
 * included) to each window's client CPU per call: the cost of one call on
 * every process of a side. Unlike a rate it hardly moves when other work
 * shares the machine.
 */
export function withServerCpu(result, serverCpuUs) {
  const perCall = serverCpuUs / result.calls;
  return result.windows.map((w) => ({ ...w, cpuUs: w.cpuUs + perCall }));
}

/**
 * A contender whose server is `svc instance --config <config>` as a user runs
 * it (every default, logging included) and whose client runs in the same
 * fresh cluster (its own registry directory).
 */
export function svcInstanceContender(name, { config, service, client, env = {} }) {
  return {
    name,
    async once(inflight) {
      const { benchCluster, startSvc } = await import('./svc-cli.mjs');
      const cluster = benchCluster(env);
      try {
        const srv = await startSvc(cluster, ['instance', '--config', config], { service });
        try {
          const cpu0 = cpuTimeUs(srv.pid);
          const result = await runClient(
            client,
            {
              inflight,
              warmupMs: settings.warmupMs,
              windowMs: settings.windowMs,
              windows: settings.windows,
            },
            60_000,
            cluster.env,
          );
          return withServerCpu(result, cpuTimeUs(srv.pid) - cpu0);
        } finally {
          await srv.stop();
        }
      } finally {
        cluster.remove();
      }
    },
  };
}

/**
 * The same contender with every process it starts on one CPU (the runner's
 * affinity, which children inherit, set with `taskset` for the run and put
 * back after). Both sides on one CPU pay no cross-CPU wake-up: on a virtual
 * machine that wake-up (an interrupt to a halted virtual CPU) cost each call
 * 50–120 µs of CPU, varying with the host, more than either side's own
 * work, so a one-in-flight rate measured the hypervisor as much as the
 * code. On one CPU the rate is each side's own cost. Where taskset is
 * missing (not Linux) {@link canPinToOneCpu} says so and the scenario
 * leaves the row out; a failing taskset throws, so that a figure never
 * silently measures something else.
 */
export function onOneCpu(contender, cpu = 0) {
  return {
    name: `${contender.name}, one CPU`,
    async once(...args) {
      const mask = affinityOf(process.pid);
      setAffinity(process.pid, String(cpu));
      try {
        return await contender.once(...args);
      } finally {
        setAffinity(process.pid, mask, true);
      }
    },
  };
}

/** Whether `taskset` can read this process's affinity (and so {@link onOneCpu} can run). */
export function canPinToOneCpu() {
  try {
    affinityOf(process.pid);
    return true;
  } catch {
    return false;
  }
}

function affinityOf(pid) {
  const out = execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' });
  // "pid 123's current affinity mask: 3"
  return out.trim().split(': ').at(-1);
}

/** Sets every thread of `pid` to `cpus` (a list such as "0", or a hex mask when `isMask`). */
function setAffinity(pid, cpus, isMask = false) {
  const args = isMask ? ['-a', '-p', cpus, String(pid)] : ['-a', '-p', '-c', cpus, String(pid)];
  execFileSync('taskset', args, { stdio: 'ignore' });
}
